#!/usr/bin/env bash
# Checks that the release is reproducible: builds the release archive twice with .ci/release.sh, from two clean clones
# of one commit at two different paths (different lengths, so no path can cancel out), and compares the two archives
# byte for byte. On a difference it says which file of the archive differs. Costs two release builds (each publishes
# the agent and the gateway). Safe to run next to other builds: everything lives in its own mktemp directory.
# Usage: .ci/reproduce.sh [REV]   (default HEAD; uncommitted changes are not part of a release and are not built)
#        .ci/reproduce.sh --against ARCHIVE [REV]   (one build, compared with a published archive: how to verify a release)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
against=""
if [ "${1:-}" = --against ]; then against=$(realpath "$2"); shift 2; fi
commit=$(git rev-parse --verify "${1:-HEAD}^{commit}")
work=$(mktemp -d "${TMPDIR:-/tmp}/sandboxd-reproduce.XXXXXX")
# SANDBOXD_REPRODUCE_KEEP=1 keeps the clones and their publish output (obj/) for a look at what differs.
if [ "${SANDBOXD_REPRODUCE_KEEP:-0}" = 1 ]; then echo "keeping $work" >&2; else trap 'rm -rf "$work"' EXIT; fi

build() { # build DIR: clean clone of $commit at DIR, release archive into DIR.out; prints the archive path
  local dir=$1
  mkdir -p "$(dirname "$dir")"
  git clone -q --no-local --no-checkout "$repo" "$dir"
  git -C "$dir" -c advice.detachedHead=false checkout -q "$commit"
  "$dir/.ci/release.sh" --out "$dir.out" $([ "${SANDBOXD_REPRODUCE_KEEP:-0}" = 1 ] && echo --keep "$dir.publish") | tail -1
}

first=$(build "$work/a/sandboxd")
if [ -n "$against" ]; then
  second=$against
else
  second=$(build "$work/b/a-longer-path/sandboxd")
fi
if cmp -s "$first" "$second"; then
  echo "reproducible: $(basename "$first") $(sha256sum < "$first" | cut -d' ' -f1) (commit $commit)"
  exit 0
fi
echo "NOT reproducible: $first and $second differ (commit $commit)" >&2
mkdir -p "$work/x" "$work/y"
tar -C "$work/x" -xzf "$first" && tar -C "$work/y" -xzf "$second"
(cd "$work/x" && find . -type f | sort | while read -r f; do cmp -s "$f" "$work/y/$f" || echo "  differs: $f ($(cmp "$f" "$work/y/$f" -l 2>/dev/null | wc -l) bytes)"; done) >&2
exit 1
