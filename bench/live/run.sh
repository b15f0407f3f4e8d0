#!/usr/bin/env bash
# live: the agent's live features (issue #3), each figure beside a floor or peer measured in the same run.
#   pty echo — one key as terminal:input on a JSON /ws socket → the terminal:output frame with its echo (PTY running
#              /bin/sh, canonical mode: the kernel's line discipline echoes). Floor: the same key written to the
#              master of a PTY pair opened by the measurer, echo read back (no agent). Detail: /ws in→out without a
#              PTY (terminal:input to an unknown terminal → terminal:error). Interleaved in rounds.
#   watch    — open+write+close of a new file → file:changed read from a watcher's channel, beside
#              `inotifywait -m -e close_write` on the same directory (same files, same run, one clock).
#   rss      — a fresh agent's VmRSS at start, with LIVE_PTYS idle /bin/sh PTYs (no socket, then one socket
#              subscribed to all), and after deleting them all; the shells' own RSS/PSS for context; verifies that
#              no process of the shells' sessions is left.
# Prints one table and writes bench/results/live.json (+ .txt).
#
# Needs SANDBOXD_PATH (the published agent), dotnet, inotifywait (package inotify-tools; installed with apt-get when
# missing and running as root).
# Tunables (env): LIVE_PTY_SAMPLES (2000), LIVE_PTY_WARMUP (200), LIVE_PTY_ROUNDS (10), LIVE_PTY_CLEAR_EVERY (64),
#                 LIVE_WATCH_SAMPLES (500), LIVE_WATCH_WARMUP (50), LIVE_PTYS (1000), LIVE_PTY_CONCURRENCY (8),
#                 LIVE_SHELL (/bin/sh), LIVE_PARTS ("pty watch rss": any subset), INOTIFYWAIT (inotifywait),
#                 LIVE_AGENT_ENV (extra NAME=VALUE words for the agent's environment, e.g. DOTNET_gcServer=0; empty).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$bench/lib.sh"
pty_samples=${LIVE_PTY_SAMPLES:-2000}
pty_warmup=${LIVE_PTY_WARMUP:-200}
pty_rounds=${LIVE_PTY_ROUNDS:-10}
pty_clear=${LIVE_PTY_CLEAR_EVERY:-64}
watch_samples=${LIVE_WATCH_SAMPLES:-500}
watch_warmup=${LIVE_WATCH_WARMUP:-50}
ptys=${LIVE_PTYS:-1000}
pty_concurrency=${LIVE_PTY_CONCURRENCY:-8}
shell=${LIVE_SHELL:-/bin/sh}
parts=" ${LIVE_PARTS:-pty watch rss} "
read -r -a agent_env <<<"${LIVE_AGENT_ENV:-}"
for kv in "${agent_env[@]}"; do
  [[ $kv == [A-Za-z_]*=* ]] || { echo "LIVE_AGENT_ENV: '$kv' is not NAME=VALUE" >&2; exit 2; }
done

# --- prerequisites ---------------------------------------------------------------------------------------------------
command -v dotnet >/dev/null || { echo "dotnet SDK not found (see global.json)" >&2; exit 1; }
inotifywait_bin=${INOTIFYWAIT:-inotifywait}
if [[ $parts == *" watch "* ]] && ! command -v "$inotifywait_bin" >/dev/null; then
  apt_install inotify-tools "need inotifywait (package inotify-tools): install it and re-run"
fi
[ -x "$shell" ] || { echo "LIVE_SHELL=$shell is not an executable" >&2; exit 1; }

# 1000 PTYs cost the agent ~3 fds each (master, a dup for input, a pidfd): raise the soft limit to the hard one; the
# agent inherits it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile=$(ulimit -n)
pty_max=$(cat /proc/sys/kernel/pty/max 2>/dev/null || echo 4096)
pty_nr=$(cat /proc/sys/kernel/pty/nr 2>/dev/null || echo 0)
if [[ $parts == *" rss "* ]]; then
  if [ "$nofile" != unlimited ] && [ "$nofile" -lt $((ptys * 3 + 256)) ]; then
    echo "open-file limit $nofile is too low for $ptys PTYs (need ~$((ptys * 3 + 256))): raise the hard limit or lower LIVE_PTYS" >&2
    exit 1
  fi
  if [ $((pty_max - pty_nr)) -lt $((ptys + 8)) ]; then
    echo "kernel.pty.max=$pty_max with $pty_nr in use leaves too few PTYs for $ptys (+ 8): raise it or lower LIVE_PTYS" >&2
    exit 1
  fi
fi

# Kills what the tool started and may have left behind if it was killed itself: inotifywait (its pid file) and the
# PTY shells (pids written as they were created; a pid counts only while it is still the shell program and leads its
# own session, which a recycled pid almost never does). Prints how many it had to kill.
stop_leftovers() {
  local killed=0 pid comm stat fields
  if [ -s "$work/inotifywait.pid" ]; then
    pid=$(cat "$work/inotifywait.pid")
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = inotifywait ]; then
      kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
    fi
  fi
  if [ -s "$work/shells.txt" ]; then
    while read -r pid; do
      [[ $pid =~ ^[0-9]+$ ]] || continue
      { read -r comm <"/proc/$pid/comm" && read -r stat <"/proc/$pid/stat"; } 2>/dev/null || continue
      [ "$comm" = "${shell##*/}" ] || continue
      # after the parenthesised comm: state ppid pgrp session …
      read -r -a fields <<<"${stat##*) }"
      if [ "${fields[3]}" = "$pid" ] && [ "${fields[0]}" != Z ]; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        killed=$((killed + 1))
      fi
    done <"$work/shells.txt"
  fi
  echo "$killed"
}

stop_children() {
  stop_pid "$step_pid"
  stop_pid "$agent_pid"
  local left
  left=$(stop_leftovers)
  if [ "$left" != 0 ]; then echo "cleanup: killed $left leftover process(es) (inotifywait / PTY shells)" >&2; fi
}
begin_work sandboxd-bench-live agent.err

# Starts a fresh agent in $work/NAME (from an empty root; see start_agent in bench/lib.sh); sets agent_pid and url.
start_fresh_agent() {
  local name=$1
  rm -rf "${work:?}/${name:?}"
  token="bench-$RANDOM$RANDOM$RANDOM"
  start_agent "$work/$name" Warning "$token" "${agent_env[@]}"
}

echo "== live: building the measurer (bench/LiveLatency)"
build_tool "$bench/LiveLatency/LiveLatency.csproj" "$work/tool" "$bench/.artifacts/live"
tool=(dotnet "$work/tool/LiveLatency.dll")

load_before=$(loadavg)
report_args=()
latency_rss_kb="-"

# --- 1 + 2: PTY echo and watch latency (one agent) -------------------------------------------------------------------
if [[ $parts == *" pty "* || $parts == *" watch "* ]]; then
  start_fresh_agent latency
  if [[ $parts == *" pty "* ]]; then
    echo "== pty echo: $pty_samples keys after $pty_warmup warm-up, floor/ours/detail interleaved in $pty_rounds rounds"
    step timeout 1200 "${tool[@]}" pty --url "$url" --token "$token" --samples "$pty_samples" --warmup "$pty_warmup" \
      --rounds "$pty_rounds" --clear-every "$pty_clear" --shell "$shell" \
      --out "$work/pty-ours.txt" --floor-out "$work/pty-floor.txt" --ws-out "$work/pty-ws.txt"
    report_args+=(--pty-floor "$work/pty-floor.txt" --pty-ours "$work/pty-ours.txt" --pty-ws "$work/pty-ws.txt")
  fi
  if [[ $parts == *" watch "* ]]; then
    echo "== watch: $watch_samples new files after $watch_warmup warm-up, agent watcher and inotifywait on the same directory"
    step timeout 1200 "${tool[@]}" watch --url "$url" --token "$token" --dir "$work/latency/root/watched" --rel watched \
      --samples "$watch_samples" --warmup "$watch_warmup" --inotifywait "$(command -v "$inotifywait_bin")" \
      --pid-file "$work/inotifywait.pid" --out "$work/watch-ours.txt" --peer-out "$work/watch-peer.txt"
    report_args+=(--watch-peer "$work/watch-peer.txt" --watch-ours "$work/watch-ours.txt")
  fi
  latency_rss_kb=$(rss_kb "$agent_pid")
  stop_agent
fi

# --- 3: memory with many idle PTYs (a fresh agent) -------------------------------------------------------------------
if [[ $parts == *" rss "* ]]; then
  echo "== rss: $ptys PTY terminals ($shell) on a fresh agent, $pty_concurrency creates at a time"
  start_fresh_agent rss
  step timeout 1200 "${tool[@]}" rss --url "$url" --token "$token" --agent-pid "$agent_pid" --count "$ptys" \
    --concurrency "$pty_concurrency" --shell "$shell" --pids-out "$work/shells.txt" --out "$work/rss.txt"
  stop_agent
  left=$(stop_leftovers)
  [ "$left" = 0 ] || { echo "rss: $left PTY shell(s) were still running after the agent stopped" >&2; exit 1; }
  report_args+=(--rss "$work/rss.txt")
fi

# --- report ----------------------------------------------------------------------------------------------------------
machine_meta --load-before "$load_before" --load-after "$(loadavg)" --dirty "agent client"
echo
"${tool[@]}" report --json "$results/live.json" "${report_args[@]}" "${meta[@]}" \
  --meta "agent_binary=$SANDBOXD_PATH ($(date -u -r "$SANDBOXD_PATH" +%Y-%m-%dT%H:%M:%SZ))" \
  --meta "agent_rss_kb_after_latency=$latency_rss_kb" \
  --meta "agent_env=${LIVE_AGENT_ENV:-}" \
  --meta "shell=$shell -> $(readlink -f "$shell")" \
  --meta "ulimit_nofile=$nofile" \
  --meta "pty_max=$pty_max (in use before: $pty_nr)" \
  --meta "dotnet=$(dotnet --version)" \
  --meta "inotifywait=$("$inotifywait_bin" --help 2>&1 | head -1 || true)" | tee "$results/live.txt"
echo "results: $results/live.json"
