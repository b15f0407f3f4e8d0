#!/usr/bin/env bash
# many: the agent with many things at once (issue 17 item 6), each on its own fresh agent, in one run.
#   ptys     — agent VmRSS with MANY_PTYS idle /bin/sh PTY terminals, one socket subscribed to all: bench/live's `rss`
#              part, run as it is (LIVE_PARTS=rss) and read from its JSON. Target <= 40 MB.
#   servers  — MANY_SERVERS tiny HTTP servers (tinyhttp.c, built here) under POST /servers with a health check every
#              MANY_HC_INTERVAL_MS; the agent's CPU (utime+stime from /proc/PID/stat) over MANY_WINDOW_S once all are
#              ready and healthy, nothing asked of it meanwhile. Beside it, over windows of the same length: the same
#              programs started without the agent (the floor), and the agent with no server. Target <= 5 % of one core.
#   watchers — MANY_WATCHERS watchers (POST /watchers) over one tree: agent RSS, fds, inotify instances/watches; a new
#              file's file:changed latency with 1 watcher and with all present (first watcher / all copies).
#              Target: all created.
#   commands — agent VmRSS after MANY_COMMANDS_LOW and after MANY_COMMANDS run.command("true"). Target: within 10 %.
# Prints one table (met/MISSED per row) and writes $BENCH_RESULTS/many.json (+ .txt).
#
# Needs SANDBOXD_PATH (the published agent), dotnet, cc, python3 (free ports), and what bench/live needs for its part.
# Tunables (env): MANY_PTYS (1000), MANY_SERVERS (100), MANY_WATCHERS (1000), MANY_COMMANDS (10000),
#                 MANY_COMMANDS_LOW (MANY_COMMANDS / 10), MANY_WINDOW_S (20), MANY_HC_INTERVAL_MS (2000),
#                 MANY_WATCH_SAMPLES (50), MANY_TREE_DIRS (100), MANY_TREE_FILES (10 per directory),
#                 MANY_PARTS ("ptys servers watchers commands": any subset), MANY_STRACE_S (10; 0 = no strace -c of the
#                 agent after the servers window), PYTHON (/usr/bin/python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$bench/lib.sh"
ptys=${MANY_PTYS:-1000}
servers=${MANY_SERVERS:-100}
watchers=${MANY_WATCHERS:-1000}
commands=${MANY_COMMANDS:-10000}
commands_low=${MANY_COMMANDS_LOW:-$((commands / 10))}
window=${MANY_WINDOW_S:-20}
interval=${MANY_HC_INTERVAL_MS:-2000}
watch_samples=${MANY_WATCH_SAMPLES:-50}
tree_dirs=${MANY_TREE_DIRS:-100}
tree_files=${MANY_TREE_FILES:-10}
strace_s=${MANY_STRACE_S:-10}
parts=" ${MANY_PARTS:-ptys servers watchers commands} "
python=${PYTHON:-/usr/bin/python3}

command -v dotnet >/dev/null || { echo "dotnet SDK not found (see global.json)" >&2; exit 1; }
command -v cc >/dev/null || { echo "need a C compiler (cc) for tinyhttp.c" >&2; exit 1; }
[ -x "$python" ] || { echo "no python3 at $python (set PYTHON)" >&2; exit 1; }
if [ "${BENCH_SMOKE:-0}" != 1 ] && [ "$window" -lt 20 ]; then
  echo "MANY_WINDOW_S=$window: the CPU window must be >= 20 s for a published figure (BENCH_SMOKE=1 allows less)" >&2
  exit 2
fi
if [ "$commands_low" -ge "$commands" ]; then echo "MANY_COMMANDS_LOW must be below MANY_COMMANDS" >&2; exit 2; fi
# 1000 watchers / the servers' sockets: raise the soft fd limit to the hard one; the agent inherits it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

stop_children() {
  stop_pid "$step_pid"    # the measurer, or bench/live (its own trap stops its agent and shells)
  stop_pid "$agent_pid"   # stops its servers (TERM to each group) before exiting
  kill_leftovers "after stopping the agent" # tinyhttp copies (the floor's and the agent's), the agent
}
begin_work sandboxd-bench-many agent.err

echo "== many: building the measurer (bench/ManyThings) and tinyhttp"
build_tool "$bench/ManyThings/ManyThings.csproj" "$work/tool" "$bench/.artifacts/many"
tool=(dotnet "$work/tool/ManyThings.dll")
cc -O2 -Wall -o "$work/tinyhttp" "$here/tinyhttp.c"

load_before=$(loadavg)
report_args=()

start_fresh_agent() {
  rm -rf "${work:?}/${1:?}"
  token="bench-$RANDOM$RANDOM$RANDOM"
  start_agent "$work/$1" Warning "$token"
}

# --- 1: PTYs (bench/live's rss part, its own agent) ------------------------------------------------------------------
if [[ $parts == *" ptys "* ]]; then
  echo "== ptys: bench/live rss part with $ptys PTYs"
  mkdir -p "$work/live"
  step env BENCH_RESULTS="$work/live" LIVE_PARTS=rss LIVE_PTYS="$ptys" timeout 1800 "$bench/live/run.sh"
  report_args+=(--live-json "$work/live/live.json")
fi

# --- 2: servers with health checks -----------------------------------------------------------------------------------
if [[ $parts == *" servers "* ]]; then
  echo "== servers: $servers tinyhttp under the agent, health check every $interval ms; CPU over $window s windows"
  start_fresh_agent servers
  ports=$(free_ports "$python" $((servers * 2)))
  strace_args=()
  if [ "$strace_s" -gt 0 ] && command -v strace >/dev/null; then
    strace_args=(--strace "$(command -v strace)" --strace-s "$strace_s" --strace-out "$work/strace.txt")
  fi
  step timeout 1200 "${tool[@]}" servers --url "$url" --token "$token" --agent-pid "$agent_pid" --count "$servers" \
    --binary "$work/tinyhttp" --ports "$ports" --interval-ms "$interval" --window-s "$window" "${strace_args[@]}" \
    --out "$work/servers.txt"
  stop_agent
  report_args+=(--servers "$work/servers.txt")
fi

# --- 3: watchers over one tree ---------------------------------------------------------------------------------------
if [[ $parts == *" watchers "* ]]; then
  echo "== watchers: $watchers over one tree of $tree_dirs directories x $tree_files files"
  start_fresh_agent watch
  "$python" - "$work/watch/root/tree" "$tree_dirs" "$tree_files" <<'PY'
import os, sys
root, dirs, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for d in range(dirs):
    p = os.path.join(root, f"d{d // 10:02d}", f"d{d:03d}")  # two levels: 10 per parent
    os.makedirs(p, exist_ok=True)
    for f in range(files):
        with open(os.path.join(p, f"f{f:03d}.txt"), "w") as out:
            out.write("x\n")
PY
  step timeout 1200 "${tool[@]}" watchers --url "$url" --token "$token" --agent-pid "$agent_pid" --count "$watchers" \
    --dir "$work/watch/root/tree" --rel tree --samples "$watch_samples" --out "$work/watchers.txt" \
    --one-out "$work/watch-one.txt" --many-first-out "$work/watch-first.txt" --many-all-out "$work/watch-all.txt"
  stop_agent
  report_args+=(--watchers "$work/watchers.txt" --one "$work/watch-one.txt" --many-first "$work/watch-first.txt" --many-all "$work/watch-all.txt")
fi

# --- 4: RSS after many commands --------------------------------------------------------------------------------------
if [[ $parts == *" commands "* ]]; then
  echo "== commands: agent RSS after $commands_low and after $commands run.command(\"true\")"
  start_fresh_agent commands
  step timeout 1800 "${tool[@]}" commands --url "$url" --token "$token" --agent-pid "$agent_pid" \
    --checkpoints "$commands_low,$commands" --out "$work/commands.txt"
  stop_agent
  report_args+=(--commands "$work/commands.txt")
fi

# --- report ----------------------------------------------------------------------------------------------------------
kill_leftovers "after the parts" || { echo "a part left processes behind" >&2; exit 1; }
machine_meta --load-before "$load_before" --load-after "$(loadavg)" --dirty "agent bench/many bench/ManyThings"
echo
"${tool[@]}" report --json "$results/many.json" "${report_args[@]}" "${meta[@]}" \
  --meta "agent_binary=$SANDBOXD_PATH ($(date -u -r "$SANDBOXD_PATH" +%Y-%m-%dT%H:%M:%SZ))" \
  --meta "counts=ptys $ptys, servers $servers, watchers $watchers, commands $commands_low/$commands" \
  --meta "servers=tinyhttp (C), health_check interval_ms $interval, window ${window} s" \
  --meta "ulimit_nofile=$(ulimit -n)" \
  --meta "smoke=${BENCH_SMOKE:-0}" \
  --meta "dotnet=$(dotnet --version)" | tee "$results/many.txt"
if [ -s "$work/strace.txt" ]; then
  { echo; echo "strace -c -f of the agent for ${strace_s} s after the servers window (${servers} servers idle):"; cat "$work/strace.txt"; } | tee -a "$results/many.txt"
fi
echo "results: $results/many.json"
