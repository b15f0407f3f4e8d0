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
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$bench/lib.sh"
samples=${SERVERS_SAMPLES:-20}
start_samples=${SERVERS_START_SAMPLES:-20}
delay_ms=${SERVERS_RESTART_DELAY_MS:-100}
interval_ms=${SERVERS_HC_INTERVAL_MS:-100}
poll_ms=${SERVERS_POLL_MS:-2}
backoff_kills=${SERVERS_BACKOFF_KILLS:-6}
python=${PYTHON:-/usr/bin/python3}

if ! command -v supervisord >/dev/null || ! command -v supervisorctl >/dev/null; then
  apt_install supervisor "need supervisord: install the Debian package 'supervisor' (apt-get as root) and re-run"
fi
[ -x "$python" ] || { echo "no python3 at $python (set PYTHON)" >&2; exit 1; }

sv_pid=""
stop_children() {
  stop_pid "$step_pid"
  stop_pid "$agent_pid"   # stops its servers (SIGTERM to each group) before exiting
  stop_pid "$sv_pid"      # supervisord stops its programs, then exits
  kill_leftovers "after stopping the agent and supervisord" # the program copies, supervisord, the agent
}
begin_work sandboxd-bench-servers agent.err sv/supervisord.log sv/supervisord.out

echo "== servers: building the measurer"
build_tool "$bench/ServerBench/ServerBench.csproj" "$work/tool" "$bench/.artifacts"
tool=(dotnet "$work/tool/ServerBench.dll")

load_before=$(loadavg)
cp "$here/server.py" "$work/server.py"
program="$work/server.py"

# Eight free TCP ports (bound together, then released): the floor, two sandboxd crash servers, two supervisord crash
# programs, and one sandboxd + two supervisord programs for start-to-ready.
read -r p_floor p_sbd_fast p_sbd_default p_sv0 p_sv1 p_start_sbd p_start_sv0 p_start_sv1 < <(free_ports "$python" 8)

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
token="bench-$RANDOM$RANDOM"
start_agent "$work" Information "$token"

echo "== servers: agent $url, supervisord pid $sv_pid, program $python -S server.py"
machine_meta --processes "$(process_count)" --load-before "$load_before" --load-after "$(loadavg)" --dirty agent
step timeout 2400 "${tool[@]}" servers --url "$url" --token "$token" --agent-log "$work/agent.err" \
  --sv-sock "$work/sv/supervisor.sock" --sv-log "$work/sv/supervisord.log" --python "$python" --program "$program" \
  --ports "floor=$p_floor,sbd-crash-fast=$p_sbd_fast,sbd-crash-default=$p_sbd_default,sv-crash0=$p_sv0,sv-crash1=$p_sv1,sbd-start=$p_start_sbd,sv-start0=$p_start_sv0,sv-start1=$p_start_sv1" \
  --samples "$samples" --start-samples "$start_samples" --delay-ms "$delay_ms" --interval-ms "$interval_ms" \
  --poll-ms "$poll_ms" --backoff-kills "$backoff_kills" --agent-pid "$agent_pid" \
  --json "$results/servers.json" --txt "$results/servers.txt" "${meta[@]}" \
  --meta "agent=$SANDBOXD_PATH ($("$SANDBOXD_PATH" --version 2>/dev/null || echo ?))" \
  --meta "dotnet=$(dotnet --version)" \
  --meta "supervisord=$(supervisord --version 2>/dev/null)" \
  --meta "python=$("$python" --version 2>&1)" \
  --meta "sched_autogroup=$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo ?)"
echo "results: $results/servers.json"
