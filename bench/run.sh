#!/usr/bin/env bash
# Runs every benchmark against the real, AOT-published agent:
#   1. installs what the benchmarks need when it is missing (gcc, openssh-server/-client, inotify-tools, supervisor,
#      python3, nodejs, wrk; apt-get, as root);
#   2. publishes agent/ (native AOT) into bench/.bin/ — unless SANDBOXD_PATH already names an agent binary — and, for
#      the gateway benchmark, gateway/ likewise unless SANDBOXD_GATEWAY_PATH names one;
#   3. runs each benchmark: bench/<name>/run.sh for exec-latency, exec-concurrency, overlay, live, servers, proxy,
#      startup, files, gateway, and gateway-docker = bench/gateway/run.sh with GATEWAY_PROVIDER=docker (skipped,
#      saying so, without root or docker.io) (results in bench/results/).
#   Every benchmark refuses to publish (exit 3, says why) when the 1-minute load is above nproc/2 before it, or when
#   the other processes kept more than nproc/2 CPUs busy during it (lib.sh, load_guard).
# Usage: bench/run.sh [--only exec-latency|exec-concurrency|overlay|live|servers|proxy|startup|files|many|gateway|gateway-docker]
#                     [--smoke]
#   --smoke: every benchmark with tiny counts, reports to a temporary directory, no load guard — checks that they run
#            (tests/run.sh does this in CI), never what they measure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
benchmarks=(exec-latency exec-concurrency overlay live servers proxy startup files many gateway gateway-docker)
smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --only) benchmarks=("$2"); shift 2 ;;
    --smoke) smoke=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

# --- prerequisites ---------------------------------------------------------------------------------------------------
command -v dotnet >/dev/null || { echo "dotnet SDK not found (see global.json)" >&2; exit 1; }
missing=()
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
[ -x "${SSHD:-/usr/sbin/sshd}" ] || missing+=(openssh-server)
{ command -v ssh >/dev/null && command -v ssh-keygen >/dev/null; } || missing+=(openssh-client)
command -v inotifywait >/dev/null || missing+=(inotify-tools)
command -v supervisord >/dev/null || missing+=(supervisor)
[ -x /usr/bin/python3 ] || missing+=(python3)
command -v node >/dev/null || missing+=(nodejs)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "need ${missing[*]}: install them (apt-get as root) and re-run" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- the agent under test --------------------------------------------------------------------------------------------
if [ -z "${SANDBOXD_PATH:-}" ]; then
  bin="$repo/bench/.bin"
  echo "== publishing the agent (native AOT) to $bin"
  rm -rf "$bin"
  # Its own artifacts path: a concurrent build of agent/ elsewhere (tests/run.sh, an IDE) cannot interfere.
  timeout 1800 dotnet publish agent/Sandboxd.csproj -c Release -r linux-x64 -o "$bin" \
    --artifacts-path "$repo/bench/.artifacts" -warnaserror -nologo -clp:NoSummary -v:q
  export SANDBOXD_PATH="$bin/sandboxd"
fi
[ -x "$SANDBOXD_PATH" ] || { echo "SANDBOXD_PATH=$SANDBOXD_PATH is not an executable" >&2; exit 1; }
SANDBOXD_PATH=$(realpath "$SANDBOXD_PATH")
export SANDBOXD_PATH
echo "== agent: $SANDBOXD_PATH ($("$SANDBOXD_PATH" --version 2>/dev/null || echo '?'))"

# --- the gateway under test (bench/gateway only) ---------------------------------------------------------------------
if [[ " ${benchmarks[*]} " =~ \ gateway(-docker)?\  ]] && [ -z "${SANDBOXD_GATEWAY_PATH:-}" ]; then
  gbin="$repo/bench/.bin"
  echo "== publishing the gateway (native AOT) to $gbin"
  timeout 1800 dotnet publish gateway/Sandboxd.Gateway.csproj -c Release -r linux-x64 -o "$gbin" \
    --artifacts-path "$repo/bench/.artifacts" -warnaserror -nologo -clp:NoSummary -v:q
  export SANDBOXD_GATEWAY_PATH="$gbin/sandboxd-gateway"
fi

if [ "$smoke" = 1 ]; then
  BENCH_RESULTS=$(mktemp -d /tmp/sandboxd-bench-smoke.XXXXXX)
  export BENCH_SMOKE=1 BENCH_RESULTS
  export EXEC_LATENCY_CALLS=20 EXEC_LATENCY_WARMUP=5 EXEC_LATENCY_SSH_CALLS=5 EXEC_LATENCY_SSH_WARMUP=2 EXEC_LATENCY_ROUNDS=1
  export EXEC_CONC_SECONDS=1 EXEC_CONC_WARMUP_SECONDS=0
  export MANY_PTYS=20 MANY_SERVERS=5 MANY_WATCHERS=20 MANY_COMMANDS=200 MANY_WINDOW_S=3 MANY_WATCH_SAMPLES=5 MANY_TREE_DIRS=10 MANY_STRACE_S=2
  export OVERLAY_FILES=300 OVERLAY_BLOBS=2
  export LIVE_PTY_SAMPLES=20 LIVE_PTY_WARMUP=5 LIVE_PTY_ROUNDS=1 LIVE_WATCH_SAMPLES=10 LIVE_WATCH_WARMUP=2 LIVE_PTYS=10
  export SERVERS_SAMPLES=2 SERVERS_START_SAMPLES=2 SERVERS_BACKOFF_KILLS=2
  export PROXY_CALLS=50 PROXY_WARMUP=10 PROXY_ROUNDS=1 PROXY_BIG_MB=4 PROXY_BIG_REPS=1 PROXY_CONC_SECONDS=1 PROXY_CONNECTIONS=50 PROXY_CONN_BATCH=50 PROXY_WS_MESSAGES=20
  export STARTUP_ROUNDS=2
  export FILES_MIB=${FILES_MIB:-16}
  export GATEWAY_SEQUENTIAL=2 GATEWAY_CONCURRENCY=2 GATEWAY_ROUNDS=1 GATEWAY_LIVE=3
  export GATEWAY_DOCKER_SEQUENTIAL=2 GATEWAY_DOCKER_CONCURRENCY=2 GATEWAY_DOCKER_ROUNDS=1
  echo "== smoke run: tiny counts, reports in $BENCH_RESULTS (not published)"
fi

# Each benchmark cleans up after itself (trap). On INT/TERM here, the running one gets TERM (a background child of a
# script ignores INT) and we wait for its cleanup.
child=""
# shellcheck disable=SC2317 # called from the traps below
forward() {
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  exit "$1"
}
trap 'forward 130' INT
trap 'forward 143' TERM

status=0
for b in "${benchmarks[@]}"; do
  launch=("bench/$b/run.sh")
  [ "$b" != gateway-docker ] || launch=(env GATEWAY_PROVIDER=docker bench/gateway/run.sh)
  [ -x "${launch[-1]}" ] || { echo "no such benchmark: $b" >&2; exit 2; }
  echo "== benchmark $b"
  "${launch[@]}" &
  child=$!
  rc=0
  wait "$child" || rc=$?
  child=""
  [ $rc = 0 ] || { echo "benchmark $b FAILED (exit $rc)" >&2; status=1; }
done
[ "$smoke" = 0 ] || rm -rf "$BENCH_RESULTS"
exit $status
