#!/usr/bin/env bash
# servers: the same small HTTP program (server.py, python3 -S) supervised by sandboxd and by supervisord, in one run.
#   crash-to-restarted — SIGKILL of the program's own pid, then time until it answers 200 again (from a new pid) and
#                        until the supervisor reports it running/ready again (sandboxd restart_delay_ms 100 and 1000,
#                        restart_policy always; supervisord autorestart=true with startsecs=0 and startsecs=1).
#                        Kills are spaced so each is a first crash for sandboxd's backoff; then a short series of quick
#                        kills shows the backoff.
#   start-to-ready     — POST /servers (health check on) → first 200 / `ready`; supervisord startProcess → first 200 /
#                        RUNNING. Delete / stop between starts.
#   floor              — the program exec'd directly by the measurer, to its first 200.
# Prints the tables and writes bench/results/servers.json (+ .txt).
#
# Needs SANDBOXD_PATH (the published agent), dotnet, /usr/bin/python3 and supervisord (Debian package `supervisor`,
# installed here with apt-get when missing and running as root).
# Tunables (env): SERVERS_SAMPLES (20), SERVERS_START_SAMPLES (20), SERVERS_RESTART_DELAY_MS (100),
#                 SERVERS_HC_INTERVAL_MS (100), SERVERS_POLL_MS (2), SERVERS_BACKOFF_KILLS (6), PYTHON (/usr/bin/python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
repo=$(dirname "$bench")
: "${SANDBOXD_PATH:?set SANDBOXD_PATH to the published sandboxd (bench/run.sh does)}"
SANDBOXD_PATH=$(realpath "$SANDBOXD_PATH")
samples=${SERVERS_SAMPLES:-20}
start_samples=${SERVERS_START_SAMPLES:-20}
delay_ms=${SERVERS_RESTART_DELAY_MS:-100}
interval_ms=${SERVERS_HC_INTERVAL_MS:-100}
poll_ms=${SERVERS_POLL_MS:-2}
backoff_kills=${SERVERS_BACKOFF_KILLS:-6}
python=${PYTHON:-/usr/bin/python3}
results="$bench/results"
mkdir -p "$results"

if ! command -v supervisord >/dev/null || ! command -v supervisorctl >/dev/null; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "need supervisord: install the Debian package 'supervisor' (apt-get as root) and re-run" >&2
    exit 1
  fi
  echo "== installing supervisor"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends supervisor >/dev/null
fi
[ -x "$python" ] || { echo "no python3 at $python (set PYTHON)" >&2; exit 1; }

work=$(mktemp -d /tmp/sandboxd-bench-servers.XXXXXX)
agent_pid=""
sv_pid=""
step_pid=""

# Runs a long step as a background child and waits for it, so a TERM/INT to this script is handled at once (bash
# defers traps while a foreground child runs) and cleanup can stop the step too.
step() {
  "$@" &
  step_pid=$!
  local rc=0
  wait "$step_pid" || rc=$?
  step_pid=""
  return $rc
}

# Stops a child we started: SIGTERM, up to 5 s, then SIGKILL; reaps it if it is ours.
stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Every process whose command line mentions our temp dir (the program copies, supervisord, the agent): pids only.
leftovers() {
  local p
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$work/"; then echo "${p#/proc/}"; fi
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$step_pid"
  stop_pid "$agent_pid"   # stops its servers (SIGTERM to each group) before exiting
  stop_pid "$sv_pid"      # supervisord stops its programs, then exits
  local left
  left=$(leftovers | tr '\n' ' ')
  if [ -n "${left// /}" ]; then
    echo "cleanup: processes still running after stopping the agent and supervisord: $left— killing them" >&2
    for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
    [ $rc -ne 0 ] || rc=1
  fi
  if [ $rc -ne 0 ]; then
    for f in agent.err sv/supervisord.log sv/supervisord.out; do
      if [ -s "$work/$f" ]; then echo "--- $f (last lines)" >&2; tail -20 "$work/$f" >&2; fi
    done
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits (bounded) until `$2` succeeds, failing early if pid $1 died. $3 = seconds.
wait_until() {
  local pid=$1 check=$2 seconds=$3
  for _ in $(seq $((seconds * 20))); do
    if eval "$check"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

echo "== servers: building the measurer"
step timeout 600 dotnet build "$bench/ServerBench/ServerBench.csproj" -c Release -o "$work/tool" \
  --artifacts-path "$bench/.artifacts" -nologo -clp:NoSummary -v:q >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; exit 1; }
tool=(dotnet "$work/tool/ServerBench.dll")

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
cp "$here/server.py" "$work/server.py"
program="$work/server.py"

# Eight free TCP ports (bound together, then released): the floor, two sandboxd crash servers, two supervisord crash
# programs, and one sandboxd + two supervisord programs for start-to-ready.
read -r p_floor p_sbd_fast p_sbd_default p_sv0 p_sv1 p_start_sbd p_start_sv0 p_start_sv1 < <("$python" -c '
import socket
socks = [socket.socket() for _ in range(8)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')

# --- supervisord: its own config, socket, log and pidfile in the temp dir, in the foreground as our child ----------
mkdir -p "$work/sv"
program_block() { # name port startsecs autostart
  cat <<CFG
[program:$1]
command=$python -S $program
environment=PORT="$2"
directory=$work/sv
autostart=$4
autorestart=true
startsecs=$3
startretries=3
stopsignal=TERM
stopwaitsecs=2
stdout_logfile=$work/sv/$1.out
stdout_logfile_maxbytes=0
stderr_logfile=$work/sv/$1.err
stderr_logfile_maxbytes=0

CFG
}
{
  cat <<CFG
[unix_http_server]
file=$work/sv/supervisor.sock
chmod=0700

[supervisord]
nodaemon=true
logfile=$work/sv/supervisord.log
logfile_maxbytes=0
loglevel=info
pidfile=$work/sv/supervisord.pid
childlogdir=$work/sv
directory=$work/sv

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$work/sv/supervisor.sock

CFG
  program_block crash0 "$p_sv0" 0 true
  program_block crash1 "$p_sv1" 1 true
  program_block start0 "$p_start_sv0" 0 false
  program_block start1 "$p_start_sv1" 1 false
} >"$work/sv/supervisord.conf"
supervisord -n -c "$work/sv/supervisord.conf" >"$work/sv/supervisord.out" 2>&1 </dev/null &
sv_pid=$!
wait_until "$sv_pid" '[ -S "$work/sv/supervisor.sock" ] && timeout 10 supervisorctl -c "$work/sv/supervisord.conf" pid >/dev/null 2>&1' 30 \
  || { echo "supervisord did not start" >&2; exit 1; }

# --- the agent, from its own empty root directory --------------------------------------------------------------------
mkdir -p "$work/root" "$work/state"
token="bench-$RANDOM$RANDOM"
(cd "$work/root" && exec "$SANDBOXD_PATH" start --port 0 --host 127.0.0.1 --access-token "$token" --root "$work/root" \
  --state-dir "$work/state" --log-level Information >"$work/agent.out" 2>"$work/agent.err" </dev/null) &
agent_pid=$!
wait_until "$agent_pid" 'grep -q "^sandboxd ready " "$work/agent.out"' 30 || { echo "agent did not become ready" >&2; exit 1; }
url=$(awk '/^sandboxd ready /{print $3; exit}' "$work/agent.out")

echo "== servers: agent $url, supervisord pid $sv_pid, program $python -S server.py"
step timeout 2400 "${tool[@]}" servers --url "$url" --token "$token" --agent-log "$work/agent.err" \
  --sv-sock "$work/sv/supervisor.sock" --sv-log "$work/sv/supervisord.log" --python "$python" --program "$program" \
  --ports "floor=$p_floor,sbd-crash-fast=$p_sbd_fast,sbd-crash-default=$p_sbd_default,sv-crash0=$p_sv0,sv-crash1=$p_sv1,sbd-start=$p_start_sbd,sv-start0=$p_start_sv0,sv-start1=$p_start_sv1" \
  --samples "$samples" --start-samples "$start_samples" --delay-ms "$delay_ms" --interval-ms "$interval_ms" \
  --poll-ms "$poll_ms" --backoff-kills "$backoff_kills" --agent-pid "$agent_pid" \
  --json "$results/servers.json" --txt "$results/servers.txt" \
  --meta "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --meta "nproc=$(nproc)" \
  --meta "processes_before=$(ls -d /proc/[0-9]* 2>/dev/null | wc -l)" \
  --meta "kernel=$(uname -sr)" \
  --meta "cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)" \
  --meta "loadavg_before=$load_before" \
  --meta "agent_commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$([ -n "$(git -C "$repo" status --porcelain -- agent 2>/dev/null)" ] && echo +dirty)" \
  --meta "agent=$SANDBOXD_PATH ($("$SANDBOXD_PATH" --version 2>/dev/null || echo ?))" \
  --meta "dotnet=$(dotnet --version)" \
  --meta "supervisord=$(supervisord --version 2>/dev/null)" \
  --meta "python=$("$python" --version 2>&1)" \
  --meta "sched_autogroup=$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo ?)"
echo "results: $results/servers.json"
