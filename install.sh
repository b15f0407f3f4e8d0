#!/bin/sh
# sandboxd installer — POSIX sh; works as `curl -fsSL <base>/install.sh | sh` and as a local file.
#
#   sh install.sh [options]
#     --base-url URL      where releases live (default $SANDBOXD_BASE_URL or the project's release location)
#     --version V         release to install (default: latest, read from <base>/latest)
#     --archive FILE      install from a local sandboxd-<v>-linux-x64.tar.gz (its .sha256 must sit next to it)
#     --sha256 HEX        expected sha256 of the archive (instead of the .sha256 file)
#     --from-source DIR   build from a source checkout with dotnet (native AOT) and install that
#     --token T           access token to use (default $COMPUTESDK_ACCESS_TOKEN, else a generated one is kept)
#     --prefix DIR        binary directory (default /usr/local/bin as root, ~/.local/bin otherwise)
#     --port P            port for the service (default 18080)
#     --root DIR          sandbox root for the service (default /srv/sandbox as root, ~/sandbox otherwise)
#     --no-start          install but do not start the service
#     --uninstall         stop and remove everything this script installed (the token and state stay unless --purge)
#     --purge             with --uninstall: also remove the token and the agent's state
#
# Re-running upgrades in place and keeps the token and the agent's state.
set -eu

DEFAULT_BASE_URL="https://github.com/sandboxd/sandboxd/releases/download"
base_url="${SANDBOXD_BASE_URL:-$DEFAULT_BASE_URL}"
version=""
archive=""
expected_sha=""
from_source=""
token="${COMPUTESDK_ACCESS_TOKEN:-}"
prefix=""
port="18080"
sandbox_root=""
start=1
uninstall=0
purge=0

say() { printf 'sandboxd-install: %s\n' "$*" >&2; }
die() { printf 'sandboxd-install: error: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --base-url) base_url="${2:?--base-url needs a value}"; shift 2 ;;
    --version) version="${2:?--version needs a value}"; shift 2 ;;
    --archive) archive="${2:?--archive needs a file}"; shift 2 ;;
    --sha256) expected_sha="${2:?--sha256 needs a value}"; shift 2 ;;
    --from-source) from_source="${2:?--from-source needs a directory}"; shift 2 ;;
    --token) token="${2:?--token needs a value}"; shift 2 ;;
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --port) port="${2:?--port needs a value}"; shift 2 ;;
    --root) sandbox_root="${2:?--root needs a directory}"; shift 2 ;;
    --no-start) start=0; shift ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) sed -n '2,21p' "$0" 2>/dev/null || true; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

if [ "$(id -u)" = 0 ]; then
  is_root=1
  bin_dir="${prefix:-/usr/local/bin}"
  conf_dir="/etc/sandboxd"
  state_dir="/var/lib/sandboxd"
  sandbox_root="${sandbox_root:-/srv/sandbox}"
else
  is_root=0
  bin_dir="${prefix:-$HOME/.local/bin}"
  conf_dir="${XDG_CONFIG_HOME:-$HOME/.config}/sandboxd"
  state_dir="${XDG_STATE_HOME:-$HOME/.local/state}/sandboxd"
  sandbox_root="${sandbox_root:-$HOME/sandbox}"
fi
token_file="$conf_dir/access-token"
unit_file="/etc/systemd/system/sandboxd.service"

has_systemd() { [ "$is_root" = 1 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# ---------------------------------------------------------------- uninstall
if [ "$uninstall" = 1 ]; then
  if has_systemd && [ -f "$unit_file" ]; then
    systemctl disable --now sandboxd.service >/dev/null 2>&1 || true
    rm -f "$unit_file"
    systemctl daemon-reload || true
    say "stopped and removed the systemd unit"
  fi
  rm -f "$bin_dir/sandboxd" "$conf_dir/sandboxd.env"
  say "removed $bin_dir/sandboxd"
  if [ "$purge" = 1 ]; then
    rm -f "$token_file"
    rmdir "$conf_dir" 2>/dev/null || true
    rm -rf "$state_dir"
    say "removed the token and $state_dir"
  else
    rmdir "$conf_dir" 2>/dev/null || true
    [ -f "$token_file" ] && say "kept $token_file and $state_dir (use --uninstall --purge to remove them)"
  fi
  exit 0
fi

# ---------------------------------------------------------------- platform checks
arch=$(uname -m)
case "$arch" in
  x86_64|amd64) ;;
  *) die "unsupported architecture '$arch': sandboxd releases are built for x86_64 (linux-x64) only" ;;
esac
[ "$(uname -s)" = Linux ] || die "unsupported OS '$(uname -s)': sandboxd runs on Linux"
if [ -e /lib/ld-musl-x86_64.so.1 ] && [ ! -e /lib64/ld-linux-x86-64.so.2 ]; then
  die "unsupported libc: this system uses musl; sandboxd is built against glibc (Debian, Ubuntu, Fedora, RHEL...)"
fi
[ -e /lib64/ld-linux-x86-64.so.2 ] || [ -e /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 ] || die "unsupported libc: glibc's loader was not found"

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
  else die "neither sha256sum nor shasum is installed: cannot verify the download"
  fi
}

fetch() { # fetch URL FILE
  if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o "$2" "$1" || die "download failed: $1"
  elif command -v wget >/dev/null 2>&1; then wget -q -O "$2" "$1" || die "download failed: $1"
  else die "neither curl nor wget is installed: install one, or use --archive FILE"
  fi
}

work=$(mktemp -d 2>/dev/null || mktemp -d -t sandboxd)
trap 'rm -rf "$work"' EXIT INT TERM

# ---------------------------------------------------------------- obtain the binary
if [ -n "$from_source" ]; then
  command -v dotnet >/dev/null 2>&1 || die "--from-source needs the .NET SDK (dotnet) on PATH"
  [ -f "$from_source/agent/Sandboxd.csproj" ] || die "$from_source does not look like a sandboxd checkout (agent/Sandboxd.csproj missing)"
  say "building from $from_source (native AOT; about a minute)"
  dotnet publish "$from_source/agent/Sandboxd.csproj" -c Release -r linux-x64 -o "$work/publish" -nologo >&2 || die "the build failed"
  binary="$work/publish/sandboxd"
else
  if [ -z "$archive" ]; then
    if [ -z "$version" ]; then
      fetch "$base_url/latest" "$work/latest"
      version=$(tr -d ' \n\r' < "$work/latest")
      [ -n "$version" ] || die "could not read the latest version from $base_url/latest"
    fi
    name="sandboxd-$version-linux-x64.tar.gz"
    say "downloading $base_url/v$version/$name"
    fetch "$base_url/v$version/$name" "$work/$name"
    fetch "$base_url/v$version/$name.sha256" "$work/$name.sha256"
    archive="$work/$name"
  fi
  [ -f "$archive" ] || die "archive $archive does not exist"
  if [ -z "$expected_sha" ]; then
    [ -f "$archive.sha256" ] || die "no checksum: $archive.sha256 is missing (or pass --sha256 HEX)"
    expected_sha=$(cut -d' ' -f1 < "$archive.sha256")
  fi
  actual_sha=$(sha256_of "$archive")
  [ "$actual_sha" = "$expected_sha" ] || die "checksum mismatch for $archive: expected $expected_sha, got $actual_sha — not installing"
  say "checksum ok ($actual_sha)"
  mkdir -p "$work/x"
  tar -xzf "$archive" -C "$work/x" || die "could not unpack $archive"
  binary=$(find "$work/x" -type f -name sandboxd | head -n 1)
  [ -n "$binary" ] || die "the archive holds no sandboxd binary"
fi
"$binary" --version >/dev/null 2>&1 || die "the new binary does not run on this system ($(uname -sr))"

# The binary needs nothing but glibc: no .NET, no OpenSSL (the agent hashes the WebSocket handshake itself).

# ---------------------------------------------------------------- install
mkdir -p "$bin_dir" 2>/dev/null || die "no write access to $bin_dir (run as root, or pass --prefix DIR)"
[ -w "$bin_dir" ] || die "no write access to $bin_dir (run as root, or pass --prefix DIR)"
upgrade=0
[ -x "$bin_dir/sandboxd" ] && upgrade=1
if ! { cp "$binary" "$bin_dir/.sandboxd.new.$$" && chmod 0755 "$bin_dir/.sandboxd.new.$$" && mv -f "$bin_dir/.sandboxd.new.$$" "$bin_dir/sandboxd"; }; then
  die "could not write $bin_dir/sandboxd"
fi
say "$( [ "$upgrade" = 1 ] && echo upgraded || echo installed ) $bin_dir/sandboxd ($("$bin_dir/sandboxd" --version))"

umask 077
mkdir -p "$conf_dir" "$state_dir" || die "could not create $conf_dir or $state_dir"
if [ -n "$token" ]; then
  printf '%s\n' "$token" > "$token_file.tmp" && mv -f "$token_file.tmp" "$token_file"
  say "stored the given token in $token_file (mode 0600)"
elif [ -s "$token_file" ]; then
  say "kept the existing token in $token_file"
else
  token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf 'sbx_%s\n' "$token" > "$token_file.tmp" && mv -f "$token_file.tmp" "$token_file"
  say "generated a token in $token_file (mode 0600)"
fi
chmod 0600 "$token_file"
umask 022
mkdir -p "$sandbox_root"

if has_systemd; then
  unit_src=""
  if [ -d "$work/x" ]; then unit_src=$(find "$work/x" -type f -name sandboxd.service | head -n 1); fi
  [ -n "$unit_src" ] || [ -z "$from_source" ] || unit_src="$from_source/agent/dist/sandboxd.service"
  [ -n "$unit_src" ] || die "the archive holds no sandboxd.service"
  sed "s#/usr/local/bin/sandboxd#$bin_dir/sandboxd#" "$unit_src" > "$unit_file"
  printf 'SANDBOXD_PORT=%s\nSANDBOXD_ROOT=%s\n' "$port" "$sandbox_root" > "$conf_dir/sandboxd.env"
  systemctl daemon-reload
  if [ "$start" = 1 ]; then
    systemctl enable sandboxd.service >/dev/null 2>&1
    systemctl restart sandboxd.service || die "the service did not start: see journalctl -u sandboxd"
    say "sandboxd is running (systemd unit sandboxd.service, port $port)"
  else
    say "installed the systemd unit; start it with: systemctl enable --now sandboxd"
  fi
else
  say "systemd is not running here; start the agent with:"
  printf '  %s start --host 0.0.0.0 --port %s --root %s --state-dir %s --access-token-file %s\n' \
    "$bin_dir/sandboxd" "$port" "$sandbox_root" "$state_dir" "$token_file" >&2
fi
