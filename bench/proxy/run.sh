#!/usr/bin/env bash
# proxy: what the preview reverse proxy (/preview/<port>/…) costs, against the same upstream reached directly (the
# floor) and through a minimal Node.js reverse proxy (the peer), measured in one run, interleaved:
#   latency     — sequential small GETs on one keep-alive connection per path (p50/p99; added µs over direct);
#   throughput  — download of a large streamed body (256 MiB by default), a few times per path (MiB/s; first byte);
#   concurrency — small GETs from 16 keep-alive connections at once for a few seconds (requests/s);
#   connections — small GETs from 1,000 keep-alive connections at once (requests/s, errors, connections opened);
#   websocket   — echo round trips of a small message on one WebSocket per path (p50/p99; added µs over direct).
# The upstream is Node http (upstream.js). Prints the tables and writes bench/results/proxy.json (+ .txt).
#
# Needs SANDBOXD_PATH (the published agent), dotnet and node.
# Tunables (env): PROXY_CALLS (5000), PROXY_WARMUP (500), PROXY_ROUNDS (10), PROXY_BIG_MB (256), PROXY_BIG_REPS (3),
#                 PROXY_CONCURRENCY (16), PROXY_CONC_SECONDS (5), PROXY_CONNECTIONS (1000; 0: skip),
#                 PROXY_CONN_BATCH (128), PROXY_WS_MESSAGES (2000; 0: skip), PROXY_PEER (1: include the node peer; 0: skip),
#                 NODE (node).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$bench/lib.sh"
calls=${PROXY_CALLS:-5000}
warmup=${PROXY_WARMUP:-500}
rounds=${PROXY_ROUNDS:-10}
big_mb=${PROXY_BIG_MB:-256}
big_reps=${PROXY_BIG_REPS:-3}
concurrency=${PROXY_CONCURRENCY:-16}
conc_seconds=${PROXY_CONC_SECONDS:-5}
connections=${PROXY_CONNECTIONS:-1000}
conn_batch=${PROXY_CONN_BATCH:-128}
ws_messages=${PROXY_WS_MESSAGES:-2000}
with_peer=${PROXY_PEER:-1}
node=${NODE:-node}
command -v "$node" >/dev/null || { echo "node not found (set NODE)" >&2; exit 1; }
# 1,000 connections through a proxy are 1,000 sockets in the measurer, 2,000 in the agent or the peer (in and out) and
# 1,000 in the upstream: raise the soft open-files limit (inherited by all of them) to what that needs, or say why not.
need_fds=$((2 * connections + 512))
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$need_fds" ]; then
  ulimit -Sn "$need_fds" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"
  [ "$(ulimit -Sn)" = unlimited ] || [ "$(ulimit -Sn)" -ge "$need_fds" ] ||
    { echo "open-files limit $(ulimit -Sn) (hard $(ulimit -Hn)) is below the $need_fds that $connections connections need" >&2; exit 1; }
fi

upstream_pid=""
peer_pid=""
stop_children() {
  stop_pid "$step_pid"
  stop_pid "$agent_pid"
  stop_pid "$peer_pid"
  stop_pid "$upstream_pid"
  kill_leftovers "after stopping everything" # node scripts copied to $work, the agent
}
begin_work sandboxd-bench-proxy agent.err upstream.log peer.log

answers() { curl -fsS -o /dev/null --max-time 2 "$@" 2>/dev/null; }

echo "== proxy: building the measurer"
build_tool "$bench/ServerBench/ServerBench.csproj" "$work/tool" "$bench/.artifacts"
tool=(dotnet "$work/tool/ServerBench.dll")

load_before=$(loadavg)
processes_before=$(process_count)
cp "$here/upstream.js" "$here/peer-proxy.js" "$work/"
read -r p_upstream p_peer < <(free_ports /usr/bin/python3 2)

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

token="bench-$RANDOM$RANDOM"
# Started from its (empty) root, logging warnings only (the proxy path logs nothing below that).
start_agent "$work" Warning "$token"
proxied="$url/preview/$p_upstream/"
# The preview path needs the token: check both the refusal and the pass.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$proxied")
[ "$code" = 401 ] || { echo "expected 401 from $proxied without a token, got $code" >&2; exit 1; }
answers -H "Authorization: Bearer $token" "$proxied" || { echo "$proxied does not answer with the token" >&2; exit 1; }
echo "== proxy: open-files limit $(ulimit -Sn)"

echo "== proxy: upstream node on $p_upstream; ours $proxied; peer ${peer_args[*]:-(none)}"
machine_meta --processes "$processes_before" --load-before "$load_before" --load-after "$(loadavg)" --dirty agent
step timeout 1800 "${tool[@]}" proxy --direct "http://127.0.0.1:$p_upstream/" --proxied "$proxied" --token "$token" "${peer_args[@]}" \
  --agent-pid "$agent_pid" --calls "$calls" --warmup "$warmup" --rounds "$rounds" --big-mb "$big_mb" --big-reps "$big_reps" \
  --concurrency "$concurrency" --conc-seconds "$conc_seconds" \
  --connections "$connections" --conn-batch "$conn_batch" --ws-messages "$ws_messages" \
  --json "$results/proxy.json" --txt "$results/proxy.txt" "${meta[@]}" \
  --meta "agent=$SANDBOXD_PATH ($("$SANDBOXD_PATH" --version 2>/dev/null || echo ?))" \
  --meta "dotnet=$(dotnet --version)" \
  --meta "node=$("$node" --version)"
echo "results: $results/proxy.json"
