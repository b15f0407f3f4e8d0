#!/usr/bin/env bash
# gateway: how soon `compute.sandbox.create()` through sandboxd-gateway gives a sandbox that answers a command.
#   ours — the official client (computesdk@2.5.4, node, provider just-bash, gatewayUrl) against the real gateway on
#       127.0.0.1: create() → the first answered sandbox.run.command('true'), 50 one at a time, then 5 rounds of 10 at a
#       time (bench/gateway/measure.mjs);
#   floor — interleaved with the sequential ones: exec `sandboxd start --port 0` → its first GET /health 200, from the
#       same node process (what any gateway must do at least: start an agent and reach it);
#   the gateway's RSS with 100 live sandboxes.
# Prints one table with the load average before and after; writes bench/results/gateway.json (+ .txt).
# Tunables (env): GATEWAY_SEQUENTIAL (50), GATEWAY_CONCURRENCY (10), GATEWAY_ROUNDS (5), GATEWAY_LIVE (100), NODE (node),
# GATEWAY_ARGS (more gateway flags, split at spaces, e.g. --no-isolation to see what bubblewrap costs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$bench/lib.sh"
: "${SANDBOXD_GATEWAY_PATH:?set SANDBOXD_GATEWAY_PATH to the published sandboxd-gateway (bench/run.sh does)}"
SANDBOXD_GATEWAY_PATH=$(realpath "$SANDBOXD_GATEWAY_PATH")
node=${NODE:-node}
command -v "$node" >/dev/null || { echo "no node (set NODE)" >&2; exit 1; }
if [ ! -d "$here/node_modules/computesdk" ]; then
  echo "== npm ci (computesdk@2.5.4, ws)"
  (cd "$here" && timeout 300 npm ci --no-audit --no-fund >/dev/null)
fi

gateway_pid=""
stop_children() {
  stop_pid "$step_pid" # the measurer destroys what it created, also when it fails
  stop_pid "$gateway_pid"
  kill_leftovers "after stopping the gateway" # agents of sandboxes not destroyed, floor agents
}
begin_work sandboxd-bench-gateway gateway.err measure.err

key="bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
read -r -a gateway_args <<<"${GATEWAY_ARGS:-}"
mkdir -p "$work/gw-root" "$work/gw-state" "$work/home"
(cd "$work/gw-root" && exec env HOME="$work/home" "$SANDBOXD_GATEWAY_PATH" start --port 0 --host 127.0.0.1 --api-key "$key" \
  --state-dir "$work/gw-state" --agent "$SANDBOXD_PATH" "${gateway_args[@]}" >"$work/gateway.out" 2>"$work/gateway.err" </dev/null) &
gateway_pid=$!
# shellcheck disable=SC2016 # expanded by wait_until (eval)
wait_until "$gateway_pid" 'grep -q "^sandboxd-gateway ready " "$work/gateway.out"' 60 || { echo "the gateway did not become ready" >&2; exit 1; }
gateway_url=$(awk '/^sandboxd-gateway ready /{print $3; exit}' "$work/gateway.out")
gateway_url=${gateway_url%/}
echo "== gateway $gateway_url (pid $gateway_pid), agent $SANDBOXD_PATH"

load_before=$(loadavg)
echo "== load average before: $load_before ($(nproc) CPUs)"
machine_meta --load-before "$load_before" --dirty "agent gateway client bench/gateway" # refuses on a busy machine (lib.sh)
meta+=(--meta "gateway_args=${GATEWAY_ARGS:-}")
step env HOME="$work/home" timeout 1800 "$node" "$here/measure.mjs" --gateway "$gateway_url" --key "$key" \
  --gateway-pid "$gateway_pid" --agent "$SANDBOXD_PATH" --work "$work" --out "$work/gateway.json" \
  --sequential "${GATEWAY_SEQUENTIAL:-50}" --concurrency "${GATEWAY_CONCURRENCY:-10}" --rounds "${GATEWAY_ROUNDS:-5}" \
  --live "${GATEWAY_LIVE:-100}" "${meta[@]}" >"$work/gateway.txt" 2>"$work/measure.err"
load_after=$(loadavg)
echo "load average before: $load_before; after: $load_after ($(nproc) CPUs)" >>"$work/gateway.txt"
cat "$work/gateway.txt"
load_guard "after the run" "$load_after" # nothing is published from a busy machine (lib.sh)
"$node" -e 'const f = process.argv[1], r = JSON.parse(require("fs").readFileSync(f)); r.meta.loadavg_after = process.argv[2];
  require("fs").writeFileSync(f, JSON.stringify(r, null, 2));' "$work/gateway.json" "$load_after"
cp "$work/gateway.json" "$work/gateway.txt" "$results/"
echo "results: $results/gateway.json"
