#!/usr/bin/env bash
# Builds the release archive from a clean checkout:
#   artifacts/sandboxd-<version>-linux-x64.tar.gz   (sandboxd, sandboxd-gateway, LICENSE, sandboxd.service,
#                                                    sandboxd-gateway.service)
#   artifacts/sandboxd-<version>-linux-x64.tar.gz.sha256
# The archive is byte-for-byte reproducible for given binaries: sorted entries, fixed owner and mtime (the commit
# time), gzip without a timestamp. Usage: .ci/release.sh [--binary PATH] [--gateway-binary PATH] [--out DIR]
# (a binary not given is published from the checkout). --keep DIR keeps the publish output (with the .dbg files).
# Built from a clean checkout the archive is byte-identical wherever the checkout lives: .ci/reproduce.sh checks that
# (docs/adr/0008-reproducible-release.md).
set -euo pipefail
cd "$(dirname "$0")/.."
binary=""
gateway_binary=""
out="artifacts"
keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --gateway-binary) gateway_binary="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
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
if [ -z "$gateway_binary" ]; then
  dotnet publish gateway/Sandboxd.Gateway.csproj -c Release -r linux-x64 -o "$stage/publish-gateway" -warnaserror -nologo \
    -clp:NoSummary -p:ContinuousIntegrationBuild=true -p:PathMap="$PWD=/src" >&2
  gateway_binary="$stage/publish-gateway/sandboxd-gateway"
fi
name="sandboxd-$version-linux-x64"
mkdir -p "$stage/$name" "$out"
install -m 0755 "$binary" "$stage/$name/sandboxd"
install -m 0755 "$gateway_binary" "$stage/$name/sandboxd-gateway"
install -m 0644 agent/dist/LICENSE "$stage/$name/LICENSE"
install -m 0644 agent/dist/sandboxd.service "$stage/$name/sandboxd.service"
install -m 0644 agent/dist/sandboxd-gateway.service "$stage/$name/sandboxd-gateway.service"
tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --format=gnu -C "$stage" -cf - "$name" | gzip -9n > "$out/$name.tar.gz"
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
if [ -n "$keep" ]; then mkdir -p "$keep" && cp -a "$stage"/publish* "$keep"/ 2>/dev/null || true; fi
echo "$out/$name.tar.gz"
