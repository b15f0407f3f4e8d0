#!/usr/bin/env bash
# Runs every test suite against the real, AOT-published agent:
#   1. publishes agent/ and gateway/ once (native AOT) into tests/.bin/ — the binaries under test;
#   2. the xunit end-to-end suites (tests/Sandboxd.Tests, tests/Sandboxd.Client.Tests) with SANDBOXD_PATH pointing at it;
#   3. the conformance suite (tests/conformance) with the official computesdk@2.5.4 client.
#   5. the shipping suite (tests/ship, as root): release archive, install.sh on a bare rootfs, image, PID 1.
#   4. the browser suite (tests/browser): the workspace page in headless Chromium via playwright-core.
#   6. the benchmarks' smoke run (bench/run.sh --smoke): every benchmark with tiny counts, so none can rot; no figure.
#   7. the reliability suite (tests/reliability): 10,000 commands and 1,000 terminals with fd/RSS flat, a stalled
#      WebSocket subscriber, 2,000 fuzzed bodies and frames, kill -9 + restart; prints its figures at the end (also in
#      tests/.logs/reliability-figures.txt). Bounded: about 5 minutes on a quiet 2-core machine.
# Usage: tests/run.sh [--no-publish] [--only xunit|conformance|browser|ship|bench|reliability] [extra args for dotnet test]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bin="$repo/tests/.bin"
publish=1
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-publish) publish=0; shift ;;
    --only) only="$2"; shift 2 ;;
    *) break ;;
  esac
done

if [ "$publish" = 1 ] || [ ! -x "$bin/sandboxd" ] || [ ! -x "$bin/sandboxd-gateway" ]; then
  echo "== publishing the agent (native AOT) to $bin"
  rm -rf "$bin"
  dotnet publish agent/Sandboxd.csproj -c Release -r linux-x64 -o "$bin" -warnaserror -nologo -clp:NoSummary
  echo "== publishing the gateway (native AOT) to $bin"
  dotnet publish gateway/Sandboxd.Gateway.csproj -c Release -r linux-x64 -o "$bin" -warnaserror -nologo -clp:NoSummary
  extra=$(find "$bin" -maxdepth 1 -type f ! -name sandboxd ! -name sandboxd.dbg ! -name sandboxd-gateway ! -name sandboxd-gateway.dbg | head -5)
  if [ -n "$extra" ]; then echo "publish produced more than the executables and their .dbg: $extra" >&2; exit 1; fi
fi
export SANDBOXD_PATH="$bin/sandboxd"
# The gateway conformance suite, the C# client's Gateway* tests and the shipping suite run the gateway from here.
export SANDBOXD_GATEWAY_PATH="$bin/sandboxd-gateway"

# Each suite's output is also kept in tests/.logs/; the end of the run names every failed suite and test, so the tail
# of a CI log says what failed.
logs="$repo/tests/.logs"
rm -rf "$logs" && mkdir -p "$logs"
failed=()
suite() { # suite NAME COMMAND...: runs it, output to the terminal and to tests/.logs/NAME.log
  local name=$1; shift
  if ! "$@" 2>&1 | tee "$logs/$name.log"; then failed+=("$name"); fi
}
if [ -z "$only" ] || [ "$only" = xunit ]; then
  echo "== xunit end-to-end suite"
  suite xunit dotnet test tests/Sandboxd.Tests/Sandboxd.Tests.csproj -c Release --nologo "$@"
  echo "== C# client suite"
  suite client dotnet test tests/Sandboxd.Client.Tests/Sandboxd.Client.Tests.csproj -c Release --nologo "$@"
fi
if [ -z "$only" ] || [ "$only" = conformance ]; then
  echo "== conformance suite (computesdk@2.5.4)"
  suite conformance bash -c 'cd tests/conformance && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && node --test --test-concurrency=1 --test-timeout=300000'
fi
if [ -z "$only" ] || [ "$only" = browser ]; then
  if [ -d tests/browser ]; then
    echo "== browser suite (headless Chromium)"
    suite browser bash -c 'cd tests/browser && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && node --test --test-concurrency=1 --test-timeout=180000'
  fi
fi
if [ -z "$only" ] || [ "$only" = ship ]; then
  # The shipping tests need root (chroot, unshare, podman); CI runs as root. Elsewhere: opt in with --only ship.
  if [ "$(id -u)" = 0 ]; then
    echo "== shipping suite (release archive, install.sh on a bare rootfs, container image, PID 1)"
    suite ship tests/ship/run.sh
  elif [ "$only" = ship ]; then
    echo "tests/ship needs root" >&2; failed+=(ship)
  fi
fi

if [ -z "$only" ] || [ "$only" = bench ]; then
  echo "== benchmark smoke run (tiny counts; checks that every benchmark runs, never its figures)"
  suite bench bench/run.sh --smoke
fi

if [ -z "$only" ] || [ "$only" = reliability ]; then
  echo "== reliability suite (loops, stalled subscriber, fuzzer, kill -9; figures at the end)"
  suite reliability dotnet test tests/reliability/Sandboxd.Reliability.Tests.csproj -c Release --nologo "$@"
fi

echo "== summary"
if [ -f "$logs/reliability-figures.txt" ]; then
  echo "== reliability figures ($logs/reliability-figures.txt)"
  cat "$logs/reliability-figures.txt"
fi
if [ ${#failed[@]} -eq 0 ]; then
  echo "every suite passed"
  exit 0
fi
for name in "${failed[@]}"; do
  echo "FAILED suite: $name"
  grep -E '^\s*Failed [A-Za-z_]|^not ok|^FAIL' "$logs/$name.log" 2>/dev/null | sed 's/^/  /' | head -40 || true
done
exit 1
