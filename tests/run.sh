#!/usr/bin/env bash
# Runs every test suite against the real, AOT-published agent:
#   1. publishes agent/ once (native AOT) into tests/.bin/ — the binary under test;
#   2. the xunit end-to-end suites (tests/Sandboxd.Tests, tests/Sandboxd.Client.Tests) with SANDBOXD_PATH pointing at it;
#   3. the conformance suite (tests/conformance) with the official computesdk@2.5.4 client.
#   5. the shipping suite (tests/ship, as root): release archive, install.sh on a bare rootfs, image, PID 1.
#   4. the browser suite (tests/browser): the workspace page in headless Chromium via playwright-core.
# Usage: tests/run.sh [--no-publish] [--only xunit|conformance|browser|ship] [extra args for dotnet test]
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

if [ "$publish" = 1 ] || [ ! -x "$bin/sandboxd" ]; then
  echo "== publishing the agent (native AOT) to $bin"
  rm -rf "$bin"
  dotnet publish agent/Sandboxd.csproj -c Release -r linux-x64 -o "$bin" -warnaserror -nologo -clp:NoSummary
  extra=$(find "$bin" -maxdepth 1 -type f ! -name sandboxd ! -name sandboxd.dbg | head -5)
  if [ -n "$extra" ]; then echo "publish produced more than the executable and its .dbg: $extra" >&2; exit 1; fi
fi
export SANDBOXD_PATH="$bin/sandboxd"

status=0
if [ -z "$only" ] || [ "$only" = xunit ]; then
  echo "== xunit end-to-end suite"
  dotnet test tests/Sandboxd.Tests/Sandboxd.Tests.csproj -c Release --nologo "$@" || status=1
  echo "== C# client suite"
  dotnet test tests/Sandboxd.Client.Tests/Sandboxd.Client.Tests.csproj -c Release --nologo "$@" || status=1
fi
if [ -z "$only" ] || [ "$only" = conformance ]; then
  echo "== conformance suite (computesdk@2.5.4)"
  (cd tests/conformance && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && node --test --test-concurrency=1 --test-timeout=120000) || status=1
fi
if [ -z "$only" ] || [ "$only" = browser ]; then
  if [ -d tests/browser ]; then
    echo "== browser suite (headless Chromium)"
    (cd tests/browser && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && node --test --test-concurrency=1 --test-timeout=180000) || status=1
  fi
fi
if [ -z "$only" ] || [ "$only" = ship ]; then
  # The shipping tests need root (chroot, unshare, podman); CI runs as root. Elsewhere: opt in with --only ship.
  if [ "$(id -u)" = 0 ]; then
    echo "== shipping suite (release archive, install.sh on a bare rootfs, container image, PID 1)"
    tests/ship/run.sh || status=1
  elif [ "$only" = ship ]; then
    echo "tests/ship needs root" >&2; status=1
  fi
fi
exit $status
