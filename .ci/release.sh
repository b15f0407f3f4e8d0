#!/usr/bin/env bash
# Builds the release archive from a clean checkout:
#   artifacts/sandboxd-<version>-linux-x64.tar.gz   (sandboxd, LICENSE, sandboxd.service)
#   artifacts/sandboxd-<version>-linux-x64.tar.gz.sha256
# The archive is byte-for-byte reproducible for a given binary: sorted entries, fixed owner and mtime (the commit
# time), gzip without a timestamp. Usage: .ci/release.sh [--binary PATH] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
binary=""
out="artifacts"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -1)
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
if [ -z "$binary" ]; then
  dotnet publish agent/Sandboxd.csproj -c Release -r linux-x64 -o "$stage/publish" -warnaserror -nologo -clp:NoSummary \
    -p:ContinuousIntegrationBuild=true -p:PathMap="$PWD=/src" >&2
  binary="$stage/publish/sandboxd"
fi
name="sandboxd-$version-linux-x64"
mkdir -p "$stage/$name" "$out"
install -m 0755 "$binary" "$stage/$name/sandboxd"
install -m 0644 agent/dist/LICENSE "$stage/$name/LICENSE"
install -m 0644 agent/dist/sandboxd.service "$stage/$name/sandboxd.service"
tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --format=gnu -C "$stage" -cf - "$name" | gzip -9n > "$out/$name.tar.gz"
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
echo "$out/$name.tar.gz"
