#!/usr/bin/env bash
# exec-latency: how long one `run.command("true")` takes, against the two things it can be compared with.
#   floor  — posix_spawn + waitpid of `/bin/sh -c true` on this machine (spawnlat.c): what any exec costs here.
#            Measured in blocks interleaved with ours (EXEC_LATENCY_ROUNDS) so load drift hits both alike.
#   ours   — sequential POST /run/command {"command":"true"} round trips on one keep-alive HTTP/1.1 connection
#            to the AOT agent (bench/ExecLatency, a Stopwatch around each call).
#   ssh    — `ssh ... true` through a ControlMaster connection to a private sshd on 127.0.0.1 started here.
# Prints one table and writes bench/results/exec-latency.json (+ .txt).
#
# Needs SANDBOXD_PATH (the published agent), gcc, dotnet, /usr/sbin/sshd, ssh, ssh-keygen: bench/run.sh provides them.
# Tunables (env): EXEC_LATENCY_CALLS (1000), EXEC_LATENCY_WARMUP (100), EXEC_LATENCY_SSH_CALLS (200),
#                 EXEC_LATENCY_SSH_WARMUP (20), EXEC_LATENCY_ROUNDS (10), SSHD (/usr/sbin/sshd).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$bench/lib.sh"
calls=${EXEC_LATENCY_CALLS:-1000}
warmup=${EXEC_LATENCY_WARMUP:-100}
ssh_calls=${EXEC_LATENCY_SSH_CALLS:-200}
ssh_warmup=${EXEC_LATENCY_SSH_WARMUP:-20}
rounds=${EXEC_LATENCY_ROUNDS:-10}
sshd_bin=${SSHD:-/usr/sbin/sshd}

sshd_pid=""
ssh_master_pid=""
ssh_opts=()
stop_children() {
  if [ ${#ssh_opts[@]} -gt 0 ]; then
    timeout 5 ssh "${ssh_opts[@]}" -O exit "$(id -un)@127.0.0.1" >/dev/null 2>&1 || true
  fi
  stop_pid "$step_pid"
  stop_pid "$ssh_master_pid"
  stop_pid "$sshd_pid"
  stop_pid "$agent_pid"
}
begin_work sandboxd-bench agent.err sshd.log ssh-master.log

echo "== exec-latency: building the measurers"
gcc -O2 -Wall -Wextra -Werror -o "$work/spawnlat" "$here/spawnlat.c"
build_tool "$bench/ExecLatency/ExecLatency.csproj" "$work/execlat" "$bench/.artifacts"
execlat=(dotnet "$work/execlat/ExecLatency.dll")

load_before=$(loadavg)

# --- ours and the floor -----------------------------------------------------------------------------------------------
echo "== ours: POST /run/command {\"command\":\"true\"} over HTTP keep-alive ($calls calls after $warmup warm-up)"
echo "   floor: posix_spawn+waitpid of /bin/sh -c true ($calls spawns), interleaved with ours in $rounds rounds"
token="bench-$RANDOM$RANDOM"
start_agent "$work" Warning "$token"
step timeout 900 "${execlat[@]}" http --client raw --url "$url" --token "$token" --iterations "$calls" --warmup "$warmup" --out "$work/ours.txt" \
  --floor "$work/spawnlat" --floor-out "$work/floor.txt" --rounds "$rounds"
# The same calls through .NET's HttpClient: what a .NET caller sees (its HTTP stack on top of the agent's cost).
echo "== ours through HttpClient ($calls calls after $warmup warm-up)"
step timeout 900 "${execlat[@]}" http --url "$url" --token "$token" --iterations "$calls" --warmup "$warmup" --out "$work/httpclient.txt"
# Detail row: the raw client against GET /health — the agent's HTTP stack alone, no spawn.
echo "== detail: GET /health on the same agent ($calls calls after $warmup warm-up)"
step timeout 600 "${execlat[@]}" http --client raw --url "$url" --token "$token" --iterations "$calls" --warmup "$warmup" --get /health --out "$work/http-only.txt"
agent_rss_kb=$(rss_kb "$agent_pid")
stop_agent

# --- ssh -------------------------------------------------------------------------------------------------------------
echo "== ssh: ssh -o ControlMaster=auto ... true to a private sshd on 127.0.0.1 ($ssh_calls calls after $ssh_warmup warm-up)"
mkdir -m 700 "$work/ssh"
ssh-keygen -q -t ed25519 -N '' -C bench-host -f "$work/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -C bench-client -f "$work/ssh/client_key"
cp "$work/ssh/client_key.pub" "$work/ssh/authorized_keys"
chmod 600 "$work/ssh/authorized_keys"
user=$(id -un)
# sshd refuses to start as root without its privilege-separation directory (the mode is for it alone).
# shellcheck disable=SC2174
if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then mkdir -p -m 755 /run/sshd; fi

port_in_use() { # a TCP socket listening on $1 (hex compare against /proc/net/tcp{,6})
  local hex
  hex=$(printf '%04X' "$1")
  awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p {found=1} END{exit !found}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
port=""
for _ in $(seq 20); do
  candidate=$((20000 + RANDOM % 40000))
  port_in_use "$candidate" && continue
  cat >"$work/ssh/sshd_config" <<CFG
Port $candidate
ListenAddress 127.0.0.1
HostKey $work/ssh/host_key
PidFile none
AuthorizedKeysFile $work/ssh/authorized_keys
AllowUsers $user
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
MaxSessions 100
MaxStartups 100
LogLevel ERROR
# sshd runs every command through the user's login shell; with SHLVL set, bash skips ~/.bashrc (which Debian's bash
# otherwise sources for sshd sessions), so the figure is ssh + shell + true, not the user's shell start-up files.
SetEnv SHLVL=1
CFG
  "$sshd_bin" -t -f "$work/ssh/sshd_config" || { echo "$sshd_bin -t rejected $work/ssh/sshd_config" >&2; exit 1; }
  "$sshd_bin" -D -e -f "$work/ssh/sshd_config" >"$work/sshd.log" 2>&1 </dev/null &
  sshd_pid=$!
  if wait_until "$sshd_pid" "port_in_use $candidate" 10 && kill -0 "$sshd_pid" 2>/dev/null; then
    port=$candidate
    break
  fi
  stop_pid "$sshd_pid"
  sshd_pid=""
done
[ -n "$port" ] || { echo "could not start sshd on a free port" >&2; exit 1; }

echo "[127.0.0.1]:$port $(cut -d' ' -f1-2 "$work/ssh/host_key.pub")" >"$work/ssh/known_hosts"
ssh_opts=(-F /dev/null -p "$port" -i "$work/ssh/client_key"
  -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes
  -o UserKnownHostsFile="$work/ssh/known_hosts" -o GlobalKnownHostsFile=/dev/null
  -o ControlMaster=auto -o ControlPath="$work/ssh/cm-%C" -o ControlPersist=60
  -o LogLevel=ERROR)
# The first call opens the master connection, which then persists in the background (ControlPersist).
timeout 30 ssh "${ssh_opts[@]}" -n "$user@127.0.0.1" true >"$work/ssh-master.log" 2>&1 \
  || { echo "ssh to the private sshd failed" >&2; exit 1; }
ssh_master_pid=$(timeout 5 ssh "${ssh_opts[@]}" -O check "$user@127.0.0.1" 2>&1 | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
[ -n "$ssh_master_pid" ] || { echo "ssh ControlMaster is not running" >&2; exit 1; }
step timeout 600 "$work/spawnlat" "$ssh_calls" "$ssh_warmup" "$work/ssh.txt" ssh "${ssh_opts[@]}" -n "$user@127.0.0.1" true

# --- report ----------------------------------------------------------------------------------------------------------
machine_meta --load-before "$load_before" --load-after "$(loadavg)" --dirty "agent client"
echo
"${execlat[@]}" report --json "$results/exec-latency.json" \
  --floor "$work/floor.txt" --ours "$work/ours.txt" --ssh "$work/ssh.txt" --httpclient "$work/httpclient.txt" --http-only "$work/http-only.txt" "${meta[@]}" \
  --meta "agent_rss_kb_after=$agent_rss_kb" \
  --meta "dotnet=$(dotnet --version)" \
  --meta "ssh=$(ssh -V 2>&1)" | tee "$results/exec-latency.txt"
echo "results: $results/exec-latency.json"
