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
#     --with-gateway      also install sandboxd-gateway (the Sandbox Gateway) beside sandboxd, with its own service
#     --gateway-port P    port for the gateway service (default 18090)
#     --gateway-api-key K add K to the gateway's API keys file (default: keep the file; generate one key if empty)
#     --gateway-public-url URL  the gateway's URL as remote clients reach it: sandboxes are then served through it
#     --uninstall         stop and remove everything this script installed (the token and state stay unless --purge)
#     --purge             with --uninstall: also remove the token, the gateway's API keys and both states
#
# Re-running upgrades in place and keeps the token, the gateway's API keys and the state.
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
with_gateway=0
gateway_port="18090"
gateway_key=""
gateway_public_url=""
gateway_binary=""

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
    --with-gateway) with_gateway=1; shift ;;
    --gateway-port) gateway_port="${2:?--gateway-port needs a value}"; shift 2 ;;
    --gateway-api-key) gateway_key="${2:?--gateway-api-key needs a value}"; shift 2 ;;
    --gateway-public-url) gateway_public_url="${2:?--gateway-public-url needs a URL}"; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    -h|--help) sed -n '2,25p' "$0" 2>/dev/null || true; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

if [ "$(id -u)" = 0 ]; then
  is_root=1
  bin_dir="${prefix:-/usr/local/bin}"
  conf_dir="/etc/sandboxd"
  state_dir="/var/lib/sandboxd"
  gateway_state_dir="/var/lib/sandboxd-gateway"
  sandbox_root="${sandbox_root:-/srv/sandbox}"
else
  is_root=0
  bin_dir="${prefix:-$HOME/.local/bin}"
  conf_dir="${XDG_CONFIG_HOME:-$HOME/.config}/sandboxd"
  state_dir="${XDG_STATE_HOME:-$HOME/.local/state}/sandboxd"
  gateway_state_dir="${XDG_STATE_HOME:-$HOME/.local/state}/sandboxd-gateway"
  sandbox_root="${sandbox_root:-$HOME/sandbox}"
fi
token_file="$conf_dir/access-token"
unit_file="/etc/systemd/system/sandboxd.service"
gateway_keys_file="$conf_dir/gateway-api-keys"
gateway_unit_file="/etc/systemd/system/sandboxd-gateway.service"

has_systemd() { [ "$is_root" = 1 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# ---------------------------------------------------------------- uninstall
if [ "$uninstall" = 1 ]; then
  if has_systemd && [ -f "$unit_file" ]; then
    systemctl disable --now sandboxd.service >/dev/null 2>&1 || true
    rm -f "$unit_file"
    systemctl daemon-reload || true
    say "stopped and removed the systemd unit"
  fi
  if has_systemd && [ -f "$gateway_unit_file" ]; then
    # KillMode=process: stopping the gateway leaves its sandboxes' agents running, so the whole unit (gateway and
    # agents) gets SIGTERM first.
    systemctl kill --kill-who=all --signal=TERM sandboxd-gateway.service >/dev/null 2>&1 || true
    systemctl disable --now sandboxd-gateway.service >/dev/null 2>&1 || true
    rm -f "$gateway_unit_file"
    systemctl daemon-reload || true
    say "stopped and removed the gateway's systemd unit"
  fi
  rm -f "$bin_dir/sandboxd" "$bin_dir/sandboxd-gateway" "$conf_dir/sandboxd.env" "$conf_dir/sandboxd-gateway.env"
  say "removed $bin_dir/sandboxd (and sandboxd-gateway if it was installed)"
  if [ "$purge" = 1 ]; then
    rm -f "$token_file" "$gateway_keys_file"
    rmdir "$conf_dir" 2>/dev/null || true
    rm -rf "$state_dir" "$gateway_state_dir"
    say "removed the token, the gateway's API keys, $state_dir and $gateway_state_dir"
  else
    rmdir "$conf_dir" 2>/dev/null || true
    [ -f "$token_file" ] && say "kept $token_file and $state_dir (use --uninstall --purge to remove them)"
    [ -f "$gateway_keys_file" ] && say "kept $gateway_keys_file and $gateway_state_dir (use --uninstall --purge to remove them)"
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
  if [ "$with_gateway" = 1 ]; then
    [ -f "$from_source/gateway/Sandboxd.Gateway.csproj" ] || die "$from_source has no gateway/Sandboxd.Gateway.csproj"
    dotnet publish "$from_source/gateway/Sandboxd.Gateway.csproj" -c Release -r linux-x64 -o "$work/publish" -nologo >&2 || die "the gateway build failed"
    gateway_binary="$work/publish/sandboxd-gateway"
  fi
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
  if [ "$with_gateway" = 1 ]; then
    gateway_binary=$(find "$work/x" -type f -name sandboxd-gateway | head -n 1)
    [ -n "$gateway_binary" ] || die "the archive holds no sandboxd-gateway binary (--with-gateway needs a release that ships it)"
  fi
fi
"$binary" --version >/dev/null 2>&1 || die "the new binary does not run on this system ($(uname -sr))"
if [ "$with_gateway" = 1 ]; then
  "$gateway_binary" --version >/dev/null 2>&1 || die "the new sandboxd-gateway does not run on this system ($(uname -sr))"
  # The gateway keeps its records with the system's SQLite library (loaded when it starts serving, not by --version).
  has_sqlite=0
  for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64 /usr/lib64 /usr/lib /lib; do
    if [ -e "$d/libsqlite3.so.0" ]; then has_sqlite=1; break; fi
  done
  [ "$has_sqlite" = 1 ] || { command -v ldconfig >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libsqlite3\.so\.0'; } \
    || die "sandboxd-gateway needs SQLite's library (libsqlite3.so.0), which is not installed: install it (Debian/Ubuntu: apt-get install libsqlite3-0; Fedora/RHEL: dnf install sqlite-libs) and re-run"
fi

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
if [ "$is_root" = 1 ]; then
  # The workload's user (--run-as / SANDBOXD_RUN_AS in the unit): the agent stays root, with its token and state.
  if ! id sandbox >/dev/null 2>&1; then
    useradd --system --user-group --create-home --home-dir /home/sandbox --shell /bin/sh sandbox \
      || die "could not create the user sandbox (commands, terminals and servers run as it)"
    say "created the user sandbox: commands, terminals and servers run as it"
  fi
  [ "$(stat -c %u "$sandbox_root")" != 0 ] || chown sandbox:sandbox "$sandbox_root"
fi

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
  run_as=""; [ "$is_root" = 0 ] || run_as=" --run-as sandbox"
  printf '  %s start --host 0.0.0.0 --port %s --root %s --state-dir %s --access-token-file %s%s\n' \
    "$bin_dir/sandboxd" "$port" "$sandbox_root" "$state_dir" "$token_file" "$run_as" >&2
fi

# ---------------------------------------------------------------- the gateway (--with-gateway)
if [ "$with_gateway" = 1 ]; then
  if ! { cp "$gateway_binary" "$bin_dir/.sandboxd-gateway.new.$$" && chmod 0755 "$bin_dir/.sandboxd-gateway.new.$$" \
    && mv -f "$bin_dir/.sandboxd-gateway.new.$$" "$bin_dir/sandboxd-gateway"; }; then
    die "could not write $bin_dir/sandboxd-gateway"
  fi
  say "installed $bin_dir/sandboxd-gateway ($("$bin_dir/sandboxd-gateway" --version))"
  umask 077
  mkdir -p "$gateway_state_dir" || die "could not create $gateway_state_dir"
  if [ -n "$gateway_key" ]; then
    if [ -f "$gateway_keys_file" ] && grep -qxF "$gateway_key" "$gateway_keys_file"; then
      say "the given API key is already in $gateway_keys_file"
    else
      printf '%s\n' "$gateway_key" >> "$gateway_keys_file"
      say "added the given API key to $gateway_keys_file (mode 0600)"
    fi
  elif [ -s "$gateway_keys_file" ]; then
    say "kept the gateway's API keys in $gateway_keys_file"
  else
    key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf 'csk_%s\n' "$key" > "$gateway_keys_file.tmp" && mv -f "$gateway_keys_file.tmp" "$gateway_keys_file"
    say "generated a gateway API key in $gateway_keys_file (mode 0600); clients send it as their ComputeSDK API key"
  fi
  chmod 0600 "$gateway_keys_file"
  umask 022
  if has_systemd; then
    gateway_unit_src=""
    if [ -d "$work/x" ]; then gateway_unit_src=$(find "$work/x" -type f -name sandboxd-gateway.service | head -n 1); fi
    [ -n "$gateway_unit_src" ] || [ -z "$from_source" ] || gateway_unit_src="$from_source/agent/dist/sandboxd-gateway.service"
    [ -n "$gateway_unit_src" ] || die "the archive holds no sandboxd-gateway.service"
    # One substitution covers both paths in the unit: sandboxd-gateway and --agent sandboxd.
    sed "s#/usr/local/bin/sandboxd#$bin_dir/sandboxd#g" "$gateway_unit_src" > "$gateway_unit_file"
    printf 'SANDBOXD_GATEWAY_PORT=%s\n' "$gateway_port" > "$conf_dir/sandboxd-gateway.env"
    [ -z "$gateway_public_url" ] || printf 'SANDBOXD_GATEWAY_ARGS=--public-url %s\n' "$gateway_public_url" >> "$conf_dir/sandboxd-gateway.env"
    systemctl daemon-reload
    if [ "$start" = 1 ]; then
      systemctl enable sandboxd-gateway.service >/dev/null 2>&1
      systemctl restart sandboxd-gateway.service || die "the gateway did not start: see journalctl -u sandboxd-gateway"
      say "sandboxd-gateway is running (systemd unit sandboxd-gateway.service, port $gateway_port)"
    else
      say "installed the gateway's systemd unit; start it with: systemctl enable --now sandboxd-gateway"
    fi
  else
    say "systemd is not running here; start the gateway with:"
    printf '  %s start --host 0.0.0.0 --port %s --state-dir %s --api-keys-file %s --agent %s%s\n' \
      "$bin_dir/sandboxd-gateway" "$gateway_port" "$gateway_state_dir" "$gateway_keys_file" "$bin_dir/sandboxd" \
      "${gateway_public_url:+ --public-url $gateway_public_url}" >&2
  fi
fi
