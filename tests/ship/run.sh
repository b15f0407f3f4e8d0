#!/usr/bin/env bash
# Shipping tests: the release archive, install.sh on a bare Debian rootfs (no .NET inside), the container image from
# Dockerfile.agent under podman (agent as PID 1), and PID-1 behaviour in a new PID namespace. Also builds the release
# twice from two clean clones of HEAD at different paths and compares the archives (.ci/reproduce.sh).
# Needs root (chroot, unshare, podman). Slow the first time (debootstrap ≈ 3 min, cached in tests/.cache/).
# Usage: SANDBOXD_PATH=/path/to/sandboxd SANDBOXD_GATEWAY_PATH=/path/to/sandboxd-gateway tests/ship/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
: "${SANDBOXD_PATH:?set SANDBOXD_PATH to the published agent binary}"
: "${SANDBOXD_GATEWAY_PATH:?set SANDBOXD_GATEWAY_PATH to the published gateway binary}"
[ "$(id -u)" = 0 ] || { echo "tests/ship needs root" >&2; exit 1; }
cache="$repo/tests/.cache"
mkdir -p "$cache"
work=$(mktemp -d /tmp/sandboxd-ship.XXXXXX)
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  umount -l "$work/rootfs/proc" "$work/rootfs/dev" 2>/dev/null
  podman rm -f sandboxd-ship-test >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
wait_for() { # wait_for SECONDS CMD...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $deadline ] || return 1; sleep 0.2; done
}
# leak_check URL TOKEN PID STATE LABEL: a command started with a session token runs as the user sandbox and finds the
# access token nowhere: not in the agent's (PID, as the workload sees it) cmdline, environ or memory, not in the state
# directory STATE; STATE_TEXT (what root reads there) gives the hashes that must not show up either (issue 13 #1).
leak_check() {
  local session body out secret
  session=$(curl -fsS -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d '{"expiresIn":600}' "$1/auth/session_tokens" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || fail "$5: minting a session token"
  body=$(python3 -c 'import json,sys; print(json.dumps({"command": sys.argv[1]}))' \
    "id -un; tr '\0' ' ' < /proc/$3/cmdline; tr '\0' ' ' < /proc/$3/environ; (exec 3< /proc/$3/mem) && echo MEM-OPENED; cat $4/* $4/.[!.]*; echo checked")
  out=$(curl -fsS -H "Authorization: Bearer $session" -H 'Content-Type: application/json' -d "$body" "$1/run/command" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(d["stdout"] + d["stderr"])') || fail "$5: run.command with a session token"
  case "$out" in sandbox*checked*) ;; *) fail "$5: the workload does not run as sandbox: $out" ;; esac
  case "$out" in *"$2"*|*MEM-OPENED*) fail "$5: a session-token command reached the access token or the agent's memory: $out" ;; esac
  for secret in $(printf '%s' "$STATE_TEXT" | grep -aoE '[A-Za-z0-9_+/=-]{32,}' || true); do
    case "$out" in *"$secret"*) fail "$5: a session-token command read the state directory: $out" ;; esac
  done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v unshare >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" uidmap >/dev/null
fi

echo "== install.sh is POSIX sh (shellcheck)"
shellcheck -s sh install.sh && pass "shellcheck install.sh"

echo "== release archive"
.ci/release.sh --binary "$SANDBOXD_PATH" --gateway-binary "$SANDBOXD_GATEWAY_PATH" --out "$work/release" > "$work/release.path"
archive=$(cat "$work/release.path")
.ci/release.sh --binary "$SANDBOXD_PATH" --gateway-binary "$SANDBOXD_GATEWAY_PATH" --out "$work/release2" > /dev/null
cmp -s "$archive" "$work/release2/$(basename "$archive")" || fail "the release archive is not reproducible"
(cd "$(dirname "$archive")" && sha256sum -c "$(basename "$archive").sha256" >/dev/null) || fail "checksum file does not match"
[ "$(tar -tzf "$archive" | sed 's:^[^/]*/::' | grep -v '^$' | sort | tr '\n' ' ')" = "LICENSE sandboxd sandboxd-gateway sandboxd-gateway.service sandboxd.service " ] || fail "archive content: $(tar -tzf "$archive")"
pass "release archive $(basename "$archive") is reproducible and verified"

echo "== reproducible release: two clean clones of HEAD at different paths, release archives compared byte for byte"
# Two release builds (agent + gateway each); everything in mktemp directories, so it is safe next to other builds.
git rev-parse --verify HEAD > /dev/null 2>&1 || fail "the reproducible-release check needs a git checkout (it clones HEAD twice)"
.ci/reproduce.sh > "$work/reproduce.log" 2>&1 || { tail -40 "$work/reproduce.log"; fail "two clean clones of HEAD give different release archives"; }
pass "$(tail -1 "$work/reproduce.log")"

echo "== bare Debian rootfs"
if [ ! -f "$cache/rootfs.tar" ]; then
  debootstrap --variant=minbase bookworm "$work/bootstrap" http://deb.debian.org/debian > "$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
  tar -C "$work/bootstrap" -cf "$cache/rootfs.tar" . && rm -rf "$work/bootstrap"
fi
mkdir -p "$work/rootfs" && tar -C "$work/rootfs" -xf "$cache/rootfs.tar"
[ ! -e "$work/rootfs/usr/bin/dotnet" ] || fail "the rootfs has .NET"
mount --bind /proc "$work/rootfs/proc" && mount --bind /dev "$work/rootfs/dev"
cp install.sh "$archive" "$archive.sha256" "$work/rootfs/tmp/"
inroot() { chroot "$work/rootfs" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
inroot sh /tmp/install.sh --archive "/tmp/$(basename "$archive")" > "$work/install1.log" 2>&1 || { cat "$work/install1.log"; fail "install.sh --archive"; }
grep -q "start the agent with" "$work/install1.log" || fail "install.sh did not say how to start the agent without systemd"
[ "$(stat -c %a "$work/rootfs/etc/sandboxd/access-token")" = 600 ] || fail "token file mode"
token=$(cat "$work/rootfs/etc/sandboxd/access-token")
port=$(free_port)
# Started without the inroot function: `inroot … &` would fork a subshell, and killing it left the agent running (every
# earlier run of this suite leaked one). chroot and env exec, so $! is the agent itself.
# As the systemd unit runs it: root, with SANDBOXD_RUN_AS=sandbox (the user install.sh created).
chroot "$work/rootfs" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root SANDBOXD_RUN_AS=sandbox \
  /usr/local/bin/sandboxd start --port "$port" --root /srv/sandbox --state-dir /var/lib/sandboxd --access-token-file /etc/sandboxd/access-token \
  > "$work/chroot-agent.out" 2> "$work/chroot-agent.err" &
pids+=($!)
wait_for 20 grep -q "sandboxd ready" "$work/chroot-agent.out" || { cat "$work/chroot-agent.err"; fail "agent in the rootfs did not start"; }
grep -q '"ok"' <<<"$(curl -fsS "http://127.0.0.1:$port/health")" || fail "/health from outside the rootfs"
out=$(curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"command":"cat /etc/debian_version; test -e /usr/bin/dotnet || echo no-dotnet"}' "http://127.0.0.1:$port/run/command")
grep -q 'no-dotnet' <<<"$out" || fail "run.command in the rootfs: $out"
pass "install.sh --archive on a bare rootfs: agent answers /health and run.command"
STATE_TEXT=$(cat "$work"/rootfs/var/lib/sandboxd/* 2>/dev/null || true)
leak_check "http://127.0.0.1:$port" "$token" "${pids[-1]}" /var/lib/sandboxd "systemd layout"
pass "systemd layout: a session-token command runs as sandbox and cannot read the token, the state or the agent's memory"
# A minbase rootfs has no OpenSSL; the WebSocket handshake must not need it (the runtime's SHA-1 would abort the agent).
! ls "$work"/rootfs/usr/lib/*/libssl.so* >/dev/null 2>&1 || fail "the bare rootfs has libssl (install.sh must not need it)"
# Checks read a variable through a here-string, never `echo "$x" | grep -q`: bash line-buffers echo, so grep -q can
# match the first line and exit while echo still writes the next; echo then dies of SIGPIPE and, under pipefail, the
# check fails although it matched (a fresh-clone run under stress-ng failed the handshake check below that way).
ws_handshake() { # ws_handshake URL: prints the 101 head of a /ws upgrade (curl keeps the socket open; cut after 2 s)
  curl -s -i -N --max-time 2 -H "Connection: Upgrade" -H "Upgrade: websocket" -H "Sec-WebSocket-Version: 13" \
    -H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" "$1" || true
}
head=$(ws_handshake "http://127.0.0.1:$port/ws?token=$token&protocol=json")
{ grep -q "^HTTP/1.1 101" <<<"$head" && grep -q "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" <<<"$head"; } || fail "WebSocket handshake without libssl: $head"
grep -q '"ok"' <<<"$(curl -fsS "http://127.0.0.1:$port/health")" || { cat "$work/chroot-agent.err"; fail "the agent died after a WebSocket handshake without libssl"; }
pass "without libssl (none in the rootfs) the WebSocket handshake works and the agent keeps serving"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
in_rootfs() { local p; for p in /proc/[0-9]*; do [ "$(readlink "$p/root" 2>/dev/null)" = "$work/rootfs" ] && echo "${p#/proc/}"; done; return 0; }
[ -z "$(in_rootfs)" ] || fail "processes still running in the rootfs after stopping its agent: $(in_rootfs | tr '\n' ' ')"
inroot sh /tmp/install.sh --archive "/tmp/$(basename "$archive")" > "$work/install2.log" 2>&1 || { cat "$work/install2.log"; fail "re-run (upgrade)"; }
grep -q "upgraded" "$work/install2.log" || fail "re-run did not upgrade in place"
[ "$(cat "$work/rootfs/etc/sandboxd/access-token")" = "$token" ] || fail "upgrade changed the token"
pass "re-running install.sh upgrades in place and keeps the token"
# The gateway needs the system's libsqlite3.so.0, which a minbase rootfs lacks: install.sh must say so, then work once
# the library is there (copied from this Debian host, as `apt-get install libsqlite3-0` would put it).
if ! ls "$work"/rootfs/usr/lib/x86_64-linux-gnu/libsqlite3.so.0 >/dev/null 2>&1; then
  if inroot sh /tmp/install.sh --archive "/tmp/$(basename "$archive")" --with-gateway > "$work/install-gw0.log" 2>&1; then fail "--with-gateway without libsqlite3 was accepted"; fi
  grep -q "libsqlite3-0" "$work/install-gw0.log" || fail "no clear message about the missing SQLite library: $(cat "$work/install-gw0.log")"
  cp -L /usr/lib/x86_64-linux-gnu/libsqlite3.so.0 "$work/rootfs/usr/lib/x86_64-linux-gnu/libsqlite3.so.0"
  pass "install.sh --with-gateway names the missing SQLite library"
fi
inroot sh /tmp/install.sh --archive "/tmp/$(basename "$archive")" --with-gateway > "$work/install-gw.log" 2>&1 || { cat "$work/install-gw.log"; fail "install.sh --with-gateway"; }
grep -q "start the gateway with" "$work/install-gw.log" || fail "install.sh --with-gateway did not say how to start the gateway without systemd"
[ -x "$work/rootfs/usr/local/bin/sandboxd-gateway" ] || fail "--with-gateway did not install sandboxd-gateway"
[ "$(stat -c %a "$work/rootfs/etc/sandboxd/gateway-api-keys")" = 600 ] || fail "gateway keys file mode"
gw_key=$(head -n 1 "$work/rootfs/etc/sandboxd/gateway-api-keys")
[ -n "$gw_key" ] || fail "--with-gateway generated no API key"
gw_port=$(free_port)
chroot "$work/rootfs" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  /usr/local/bin/sandboxd-gateway start --port "$gw_port" --host 127.0.0.1 --state-dir /var/lib/sandboxd-gateway \
  --api-keys-file /etc/sandboxd/gateway-api-keys --agent /usr/local/bin/sandboxd > "$work/chroot-gw.out" 2> "$work/chroot-gw.err" &
pids+=($!)
wait_for 20 grep -q "sandboxd-gateway ready" "$work/chroot-gw.out" || { cat "$work/chroot-gw.err"; fail "the gateway in the rootfs did not start"; }
gw() { curl -fsS -H "X-ComputeSDK-API-Key: $gw_key" -H 'Content-Type: application/json' "$@"; }
created=$(gw -d '{}' "http://127.0.0.1:$gw_port/v1/sandboxes") || { cat "$work/chroot-gw.err"; fail "gateway create in the rootfs"; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][sys.argv[1]])' "$1"; }
sb_id=$(echo "$created" | field sandboxId); sb_url=$(echo "$created" | field url); sb_token=$(echo "$created" | field token)
grep -q 'gw-ok' <<<"$(curl -fsS -H "Authorization: Bearer $sb_token" -H 'Content-Type: application/json' -d '{"command":"echo gw-ok"}' "$sb_url/run/command")" \
  || fail "run.command in a sandbox the gateway created in the rootfs"
gw -X DELETE "http://127.0.0.1:$gw_port/v1/sandboxes/$sb_id" > /dev/null || fail "gateway destroy in the rootfs"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
rootfs_idle() { [ -z "$(in_rootfs)" ]; }
wait_for 20 rootfs_idle || fail "processes still running in the rootfs after destroying the sandbox and stopping the gateway: $(in_rootfs | tr '\n' ' ')"
pass "install.sh --with-gateway: the gateway in the bare rootfs creates a sandbox that runs a command, and destroys it"
sha=$(cut -d' ' -f1 < "$archive.sha256")
bad=$(printf '%s' "$sha" | tr '0-9a-f' 'f0-9a-e' | cut -c1-64)
if inroot sh /tmp/install.sh --archive "/tmp/$(basename "$archive")" --sha256 "$bad" > "$work/install3.log" 2>&1; then fail "a checksum mismatch was accepted"; fi
grep -q "checksum mismatch" "$work/install3.log" || fail "no clear checksum message: $(cat "$work/install3.log")"
pass "a checksum mismatch is refused with a clear message"
inroot sh /tmp/install.sh --uninstall --purge > "$work/uninstall.log" 2>&1 || { cat "$work/uninstall.log"; fail "--uninstall"; }
for f in usr/local/bin/sandboxd usr/local/bin/sandboxd-gateway etc/sandboxd var/lib/sandboxd var/lib/sandboxd-gateway; do [ ! -e "$work/rootfs/$f" ] || fail "--uninstall --purge left $f"; done
pass "--uninstall --purge removes the binaries, token, gateway keys and state"
umount -l "$work/rootfs/proc" "$work/rootfs/dev"

echo "== PID 1 in a new PID namespace"
port=$(free_port)
mkdir -p "$work/pidns-root" "$work/pidns-state"
unshare --pid --fork --mount-proc "$SANDBOXD_PATH" start --port "$port" --access-token T --root "$work/pidns-root" --state-dir "$work/pidns-state" > "$work/pidns.out" 2> "$work/pidns.err" &
unshare_pid=$!
pids+=("$unshare_pid")
wait_for 20 grep -q "sandboxd ready" "$work/pidns.out" || { cat "$work/pidns.err"; fail "agent did not start in a PID namespace"; }
api() { curl -fsS -H "Authorization: Bearer T" -H 'Content-Type: application/json' "$@"; }
grep -q '"stdout":"sandboxd' <<<"$(api -d '{"command":"echo $$ > /dev/null; cat /proc/1/comm"}' "http://127.0.0.1:$port/run/command")" || fail "the agent is not PID 1 in the namespace"
grep -q forked <<<"$(api -d '{"command":"( (sleep 0.3; exit 3) & ) ; (sh -c \"sleep 0.2 &\") ; echo forked"}' "http://127.0.0.1:$port/run/command")" || fail "double fork command"
# shellcheck disable=SC2016 # $s is the sandbox shell's
zombies() { api -d '{"command":"for s in /proc/[0-9]*/stat; do cut -d\" \" -f3 $s; done | grep -c Z || true"}' "http://127.0.0.1:$port/run/command" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["stdout"].strip())'; }
no_zombies() { [ "$(zombies)" = 0 ]; }
wait_for 10 no_zombies || fail "zombies remain in the PID namespace: $(zombies)"
pass "as PID 1 the agent reaps double-forked orphans (no zombies)"
api -d '{"slug":"sleeper","start":"trap \"echo got-term; exit 0\" TERM; echo started; while :; do sleep 0.1; done","stop_timeout_ms":5000}' "http://127.0.0.1:$port/servers" > /dev/null
wait_for 10 sh -c "curl -fsS -H 'Authorization: Bearer T' http://127.0.0.1:$port/servers/sleeper/logs | grep -q started" || fail "server did not start"
agent_pid=$(pgrep -P "$unshare_pid" -x sandboxd || true)
[ -n "$agent_pid" ] || fail "cannot find the agent's host pid"
kill -TERM "$agent_pid"
code=0; wait "$unshare_pid" || code=$?
[ "$code" = 0 ] || { cat "$work/pidns.err"; fail "agent exited with $code after SIGTERM"; }
grep -q "got-term" "$work/pidns-state/../pidns.err" 2>/dev/null || true
pass "SIGTERM to the PID-1 agent stops its servers and exits 0"

echo "== container image (podman + runc)"
export CONTAINERS_CONF="$work/containers.conf"
printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n' > "$CONTAINERS_CONF"
if ! podman image exists localhost/debian:bookworm-slim; then
  podman import "$cache/rootfs.tar" localhost/debian:bookworm-slim > /dev/null
fi
mkdir -p "$work/ctx" && cp "$SANDBOXD_PATH" "$work/ctx/sandboxd"
podman build --pull=never -f Dockerfile.agent --build-arg BINARY_FROM=prebuilt --build-arg RUNTIME_IMAGE=localhost/debian:bookworm-slim \
  --network host -t localhost/sandboxd:test "$work/ctx" > "$work/build.log" 2>&1 || { tail -30 "$work/build.log"; fail "podman build"; }
pass "image builds from Dockerfile.agent"
port=$(free_port)
ctok="ct_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
podman run -d --name sandboxd-ship-test -p "127.0.0.1:$port:18080" -e COMPUTESDK_ACCESS_TOKEN="$ctok" localhost/sandboxd:test > /dev/null || fail "podman run"
wait_for 30 curl -fsS "http://127.0.0.1:$port/health" || { podman logs sandboxd-ship-test; fail "/health through the published port"; }
out=$(curl -fsS -H "Authorization: Bearer $ctok" -H 'Content-Type: application/json' -d '{"command":"id -un; cat /proc/1/cmdline | tr \"\\0\" \" \""}' "http://127.0.0.1:$port/run/command")
grep -q '"stdout":"sandbox\\n/usr/local/bin/sandboxd start' <<<"$out" || fail "in the container: not non-root or not PID 1: $out"
pass "container: /health and run.command through the published port; agent is PID 1, the workload runs as user sandbox"
STATE_TEXT=$(podman exec sandboxd-ship-test sh -c 'cat /var/lib/sandboxd/*' 2>/dev/null || true)
leak_check "http://127.0.0.1:$port" "$ctok" 1 /var/lib/sandboxd "container"
pass "container: a session-token command cannot read the token (given in the environment), the state or the agent's memory"
head=$(ws_handshake "http://127.0.0.1:$port/ws?token=$ctok&protocol=json")
grep -q "^HTTP/1.1 101" <<<"$head" || fail "container: WebSocket handshake: $head"
curl -fsS "http://127.0.0.1:$port/health" > /dev/null || { podman logs sandboxd-ship-test; fail "container: the agent died after a WebSocket handshake"; }
pass "container (no libssl in the image): WebSocket handshake through the published port"
curl -fsS -H "Authorization: Bearer $ctok" -H 'Content-Type: application/json' -d '{"command":"( (sleep 0.2) & ) ; echo ok"}' "http://127.0.0.1:$port/run/command" > /dev/null
czombies() { podman exec sandboxd-ship-test sh -c 'for s in /proc/[0-9]*/stat; do cut -d" " -f3 $s; done | grep -c Z || true'; }
cno_zombies() { [ "$(czombies)" = 0 ]; }
wait_for 10 cno_zombies || fail "zombies in the container"
pass "container: no zombies after a double fork"
start=$SECONDS
podman stop -t 20 sandboxd-ship-test > /dev/null
[ "$(podman inspect -f '{{.State.ExitCode}}' sandboxd-ship-test)" = 0 ] || fail "agent exit code after podman stop: $(podman inspect -f '{{.State.ExitCode}}' sandboxd-ship-test)"
[ $((SECONDS - start)) -lt 15 ] || fail "podman stop took $((SECONDS - start)) s (SIGTERM not handled?)"
pass "podman stop stops the agent cleanly (exit 0 in $((SECONDS - start)) s)"
echo "all shipping tests passed"
