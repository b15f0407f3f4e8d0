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
#
# GATEWAY_PROVIDER=docker (bench/run.sh's `gateway-docker`): the gateway's docker provider on a Docker engine of the
# run's own (tests/docker/engines.sh: engine a, bridge network; engine b is stopped at once), the same create → first
# command, one at a time and GATEWAY_DOCKER_CONCURRENCY (20) at once; the floor is `docker run -d` of the same image on
# the same engine → its first GET /health 200, taken the same two ways in the same run. Skips (exit 0, saying so)
# without root or docker.io. Writes bench/results/gateway-docker.json (+ .txt). Tunables: GATEWAY_DOCKER_SEQUENTIAL (20),
# GATEWAY_DOCKER_CONCURRENCY (20), GATEWAY_DOCKER_ROUNDS (1).
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

provider=${GATEWAY_PROVIDER:-local}
case $provider in
  local) name=gateway ;;
  docker) name=gateway-docker ;;
  *) echo "GATEWAY_PROVIDER must be local or docker, not $provider" >&2; exit 2 ;;
esac

gateway_pid=""
engines=""
stop_children() {
  local rc=0
  stop_pid "$step_pid" # the measurer destroys what it created, also when it fails
  stop_pid "$gateway_pid"
  # The engines' dockerd, containerd and shims name $work on their command lines: stopped (and checked) first.
  if [ -n "$engines" ]; then "$repo/tests/docker/engines.sh" down "$engines" || rc=1; fi
  kill_leftovers "after stopping the gateway" || rc=1 # agents of sandboxes not destroyed, floor agents
  return $rc
}
begin_work sandboxd-bench-gateway gateway.err measure.err engines.err "$name.txt"

provider_args=()
measure_args=(--sequential "${GATEWAY_SEQUENTIAL:-50}" --concurrency "${GATEWAY_CONCURRENCY:-10}" --rounds "${GATEWAY_ROUNDS:-5}"
  --live "${GATEWAY_LIVE:-100}")
if [ "$provider" = docker ]; then
  # The engine's daemons, shims and containers leave this script's process tree: their CPU is counted as this
  # benchmark's through one cgroup (tests/docker/engines.sh, lib.sh's cgroup_jiffies), not as other processes'.
  export ENGINES_CPU_CGROUP="sandboxd-bench-$$"
  BENCH_OWN_CGROUPS="$ENGINES_CPU_CGROUP"
  rc=0
  up=$(timeout 900 "$repo/tests/docker/engines.sh" up "$work/engines" 2>"$work/engines.err") || rc=$?
  if [ $rc = 77 ]; then
    echo "== gateway-docker: SKIPPED — $(tail -1 "$work/engines.err")"
    exit 0
  fi
  engines="$work/engines"
  [ $rc = 0 ] || { echo "tests/docker/engines.sh up failed (exit $rc)" >&2; exit 1; }
  docker_a=$(sed -n 's/^DOCKER_A=//p' <<<"$up")
  image=$(sed -n 's/^IMAGE=//p' <<<"$up")
  # One engine for both sides: b would only take memory and CPU.
  "$repo/tests/docker/engines.sh" stop "$engines" b 2>>"$work/engines.err"
  docker_cli=/usr/bin/docker
  [ -x "$docker_cli" ] || docker_cli=$(command -v docker)
  echo "== docker engine $docker_a, image $image ($("$docker_cli" -H "$docker_a" version -f '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  provider_args=(--provider docker --docker-image "$image" --docker-pull never --docker-host "a=$docker_a,capacity=64")
  measure_args=(--sequential "${GATEWAY_DOCKER_SEQUENTIAL:-20}" --concurrency "${GATEWAY_DOCKER_CONCURRENCY:-20}"
    --rounds "${GATEWAY_DOCKER_ROUNDS:-1}" --live 0 --floor docker --docker-host "$docker_a" --image "$image" --docker "$docker_cli")
fi

key="bench_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
read -r -a gateway_args <<<"${GATEWAY_ARGS:-}"
mkdir -p "$work/gw-root" "$work/gw-state" "$work/home"
(cd "$work/gw-root" && exec env HOME="$work/home" "$SANDBOXD_GATEWAY_PATH" start --port 0 --host 127.0.0.1 --api-key "$key" \
  --state-dir "$work/gw-state" --agent "$SANDBOXD_PATH" "${provider_args[@]}" "${gateway_args[@]}" >"$work/gateway.out" 2>"$work/gateway.err" </dev/null) &
gateway_pid=$!
# shellcheck disable=SC2016 # expanded by wait_until (eval)
wait_until "$gateway_pid" 'grep -q "^sandboxd-gateway ready " "$work/gateway.out"' 60 || { echo "the gateway did not become ready" >&2; exit 1; }
gateway_url=$(awk '/^sandboxd-gateway ready /{print $3; exit}' "$work/gateway.out")
gateway_url=${gateway_url%/}
echo "== gateway $gateway_url (pid $gateway_pid, provider $provider), agent $SANDBOXD_PATH"

load_before=$(loadavg)
echo "== load average before: $load_before ($(nproc) CPUs)"
machine_meta --load-before "$load_before" --dirty "agent gateway client bench/gateway tests/docker Dockerfile.agent" # refuses on a busy machine (lib.sh)
meta+=(--meta "gateway_args=${GATEWAY_ARGS:-}" --meta "provider=$provider")
step env HOME="$work/home" timeout 1800 "$node" "$here/measure.mjs" --gateway "$gateway_url" --key "$key" \
  --gateway-pid "$gateway_pid" --agent "$SANDBOXD_PATH" --work "$work" --out "$work/$name.json" \
  "${measure_args[@]}" "${meta[@]}" >"$work/$name.txt" 2>"$work/measure.err"
load_after=$(loadavg)
echo "load average before: $load_before; after: $load_after ($(nproc) CPUs)" >>"$work/$name.txt"
cat "$work/$name.txt"
load_guard "after the run" "$load_after" # nothing is published from a busy machine (lib.sh)
"$node" -e 'const f = process.argv[1], r = JSON.parse(require("fs").readFileSync(f)); r.meta.loadavg_after = process.argv[2];
  require("fs").writeFileSync(f, JSON.stringify(r, null, 2));' "$work/$name.json" "$load_after"
cp "$work/$name.json" "$work/$name.txt" "$results/"
echo "results: $results/$name.json"
