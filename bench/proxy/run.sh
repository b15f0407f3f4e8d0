#!/usr/bin/env bash
# proxy: what the preview reverse proxy (/preview/<port>/…) costs, against the same upstream reached directly (the
# floor) and through a minimal Node.js reverse proxy (the peer), measured in one run, interleaved:
#   latency     — sequential small GETs on one keep-alive connection per path (p50/p99; added µs over direct);
#   throughput  — download of a large streamed body (256 MiB by default), a few times per path (MiB/s; first byte);
#   concurrency — small GETs from 16 keep-alive connections at once for a few seconds (requests/s).
# The upstream is Node http (upstream.js). Prints the tables and writes bench/results/proxy.json (+ .txt).
#
# Needs SANDBOXD_PATH (the published agent), dotnet and node.
# Tunables (env): PROXY_CALLS (5000), PROXY_WARMUP (500), PROXY_ROUNDS (10), PROXY_BIG_MB (256), PROXY_BIG_REPS (3),
#                 PROXY_CONCURRENCY (16), PROXY_CONC_SECONDS (5), PROXY_PEER (1: include the node peer; 0: skip),
#                 NODE (node).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
repo=$(dirname "$bench")
: "${SANDBOXD_PATH:?set SANDBOXD_PATH to the published sandboxd (bench/run.sh does)}"
SANDBOXD_PATH=$(realpath "$SANDBOXD_PATH")
calls=${PROXY_CALLS:-5000}
warmup=${PROXY_WARMUP:-500}
rounds=${PROXY_ROUNDS:-10}
big_mb=${PROXY_BIG_MB:-256}
big_reps=${PROXY_BIG_REPS:-3}
concurrency=${PROXY_CONCURRENCY:-16}
conc_seconds=${PROXY_CONC_SECONDS:-5}
with_peer=${PROXY_PEER:-1}
node=${NODE:-node}
results="$bench/results"
mkdir -p "$results"
command -v "$node" >/dev/null || { echo "node not found (set NODE)" >&2; exit 1; }

work=$(mktemp -d /tmp/sandboxd-bench-proxy.XXXXXX)
agent_pid=""
upstream_pid=""
peer_pid=""
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

# Every process whose command line mentions our temp dir (node scripts copied there, the agent): pids only.
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
  stop_pid "$agent_pid"
  stop_pid "$peer_pid"
  stop_pid "$upstream_pid"
  local left
  left=$(leftovers | tr '\n' ' ')
  if [ -n "${left// /}" ]; then
    echo "cleanup: processes still running after stopping everything: $left— killing them" >&2
    for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
    [ $rc -ne 0 ] || rc=1
  fi
  if [ $rc -ne 0 ]; then
    for f in agent.err upstream.log peer.log; do
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
answers() { curl -fsS -o /dev/null --max-time 2 "$@" 2>/dev/null; }

echo "== proxy: building the measurer"
step timeout 600 dotnet build "$bench/ServerBench/ServerBench.csproj" -c Release -o "$work/tool" \
  --artifacts-path "$bench/.artifacts" -nologo -clp:NoSummary -v:q >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; exit 1; }
tool=(dotnet "$work/tool/ServerBench.dll")

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
processes_before=$(ls -d /proc/[0-9]* 2>/dev/null | wc -l)
cp "$here/upstream.js" "$here/peer-proxy.js" "$work/"
read -r p_upstream p_peer < <(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')

PORT=$p_upstream "$node" "$work/upstream.js" >"$work/upstream.log" 2>&1 </dev/null &
upstream_pid=$!
wait_until "$upstream_pid" 'answers "http://127.0.0.1:$p_upstream/"' 30 || { echo "upstream did not start" >&2; exit 1; }
peer_args=()
if [ "$with_peer" = 1 ]; then
  PORT=$p_peer UPSTREAM_PORT=$p_upstream "$node" "$work/peer-proxy.js" >"$work/peer.log" 2>&1 </dev/null &
  peer_pid=$!
  wait_until "$peer_pid" 'answers "http://127.0.0.1:$p_peer/"' 30 || { echo "peer proxy did not start" >&2; exit 1; }
  peer_args=(--peer "http://127.0.0.1:$p_peer/")
fi

mkdir -p "$work/root" "$work/state"
token="bench-$RANDOM$RANDOM"
# Started from its (empty) root, logging warnings only (the proxy path logs nothing below that).
(cd "$work/root" && exec "$SANDBOXD_PATH" start --port 0 --host 127.0.0.1 --access-token "$token" --root "$work/root" \
  --state-dir "$work/state" --log-level Warning >"$work/agent.out" 2>"$work/agent.err" </dev/null) &
agent_pid=$!
wait_until "$agent_pid" 'grep -q "^sandboxd ready " "$work/agent.out"' 30 || { echo "agent did not become ready" >&2; exit 1; }
url=$(awk '/^sandboxd ready /{print $3; exit}' "$work/agent.out")
proxied="$url/preview/$p_upstream/"
# The preview path needs the token: check both the refusal and the pass.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$proxied")
[ "$code" = 401 ] || { echo "expected 401 from $proxied without a token, got $code" >&2; exit 1; }
answers -H "Authorization: Bearer $token" "$proxied" || { echo "$proxied does not answer with the token" >&2; exit 1; }

echo "== proxy: upstream node on $p_upstream; ours $proxied; peer ${peer_args[*]:-(none)}"
step timeout 1800 "${tool[@]}" proxy --direct "http://127.0.0.1:$p_upstream/" --proxied "$proxied" --token "$token" "${peer_args[@]}" \
  --agent-pid "$agent_pid" --calls "$calls" --warmup "$warmup" --rounds "$rounds" --big-mb "$big_mb" --big-reps "$big_reps" \
  --concurrency "$concurrency" --conc-seconds "$conc_seconds" \
  --json "$results/proxy.json" --txt "$results/proxy.txt" \
  --meta "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --meta "nproc=$(nproc)" \
  --meta "processes_before=$processes_before" \
  --meta "kernel=$(uname -sr)" \
  --meta "cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)" \
  --meta "loadavg_before=$load_before" \
  --meta "agent_commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$([ -n "$(git -C "$repo" status --porcelain -- agent 2>/dev/null)" ] && echo +dirty)" \
  --meta "agent=$SANDBOXD_PATH ($("$SANDBOXD_PATH" --version 2>/dev/null || echo ?))" \
  --meta "dotnet=$(dotnet --version)" \
  --meta "node=$("$node" --version)"
echo "results: $results/proxy.json"
