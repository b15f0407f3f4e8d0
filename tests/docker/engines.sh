#!/usr/bin/env bash
# Two Docker engines of our own for the docker-provider tests (C# GatewayDocker* and conformance gateway-docker):
#   engines.sh up DIR      start engine "a" (default bridge, iptables) and engine "b" (--bridge none --iptables=false),
#                          each with its own socket, --data-root, --exec-root and --pidfile under DIR (and its own
#                          containerd, which dockerd starts), load the agent image into both, then print
#                          DOCKER_A=unix://… DOCKER_B=unix://… IMAGE=… on stdout
#   engines.sh stop DIR N  stop engine N (a or b) completely; engines.sh start DIR N starts it again (same data)
#   engines.sh down DIR    stop both, verify nothing of theirs runs (kill -9 what does), unmount and remove DIR
# The agent image is Dockerfile.agent built FROM a base imported from tests/.cache/rootfs.tar (debootstrap, as
# tests/ship makes it) with the published agent (SANDBOXD_PATH) — no registry is needed. The built image is cached
# as tests/.cache/docker-agent-<hash of binary + Dockerfile>.tar and only loaded on later runs.
# Exit code 77: docker.io is not installed or we are not root (callers skip, loudly).
# ENGINES_CPU_CGROUP=NAME (bench/gateway sets it): each engine's dockerd — and so its containerd and shims — runs in the
# cgroup NAME/<engine>/daemon and its containers under NAME/<engine>/containers (--cgroup-parent), so the CPU time of
# everything an engine does, exited containers included, adds up in NAME's accounting (cgroup v1 cpuacct, or v2);
# `down` removes NAME's directories.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cmd=${1:?usage: engines.sh up|down|stop|start DIR [a|b]}
dir=${2:?usage: engines.sh up|down|stop|start DIR [a|b]}
log() { echo "engines.sh: $*" >&2; }

# The 20.10 CLI of docker.io builds with BuildKit natively (it skips Dockerfile.agent's SDK stage); a newer CLI
# earlier on PATH would need the buildx plugin.
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker || true)

# Engine a gets a bridge of its own: a dockerd started with --bridge none deletes the default docker0 at start, so
# two engines on one machine cannot both rely on docker0.
bridge_name() { echo "sbxd$(echo "$dir" | sha256sum | cut -c1-8)"; }

make_bridge() {
  local br
  br=$(bridge_name)
  ip link show "$br" >/dev/null 2>&1 && return 0
  ip link add name "$br" type bridge
  ip addr add "10.213.$(( 0x$(echo "$dir" | sha256sum | cut -c1-2) )).1/24" dev "$br"
  ip link set "$br" up
}

# Engine b also listens on tcp://127.0.0.1:PORT with TLS client certificates (--tlsverify), as a remote host would:
# a CA, the engine's certificate for 127.0.0.1, a client certificate (tls/client), and a client certificate of another
# CA (tls/stranger) that the engine must refuse. Made once per DIR with openssl.
make_tls() {
  local t="$dir/tls"
  [ -f "$t/client/key.pem" ] && return 0
  command -v openssl >/dev/null || { log "openssl is not installed"; return 1; }
  mkdir -p "$t/client" "$t/stranger" && chmod 700 "$t"
  ca() { # ca DIR: a self-signed CA in DIR/ca.pem, DIR/ca-key.pem
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sandboxd-test-ca-$(basename "$1")" \
      -keyout "$1/ca-key.pem" -out "$1/ca.pem" 2>/dev/null
  }
  issue() { # issue CA_DIR OUT_PREFIX CN EXT
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$3" -keyout "$2-key.pem" -out "$2.csr" 2>/dev/null
    printf '%s\n' "$4" >"$2.ext"
    openssl x509 -req -in "$2.csr" -CA "$1/ca.pem" -CAkey "$1/ca-key.pem" -CAcreateserial -days 2 -extfile "$2.ext" -out "$2.pem" 2>/dev/null
    rm -f "$2.csr" "$2.ext"
  }
  ca "$t"
  issue "$t" "$t/server" 127.0.0.1 "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
  issue "$t" "$t/client/cert" sandboxd-gateway "extendedKeyUsage=clientAuth"
  mv "$t/client/cert-key.pem" "$t/client/key.pem" && cp "$t/ca.pem" "$t/client/ca.pem"
  mkdir -p "$t/other" && ca "$t/other"
  issue "$t/other" "$t/stranger/cert" stranger "extendedKeyUsage=clientAuth"
  mv "$t/stranger/cert-key.pem" "$t/stranger/key.pem" && cp "$t/ca.pem" "$t/stranger/ca.pem"
  local port=$(( 23000 + 0x$(echo "$dir" | sha256sum | cut -c1-3) % 2000 ))
  while [ -n "$(ss -ltnH "sport = :$port" 2>/dev/null)" ]; do port=$((port + 1)); done
  echo "$port" >"$dir/b.tls-port"
}

engine_args() { # engine_args NAME
  local n=$1
  local args=(-H "unix://$dir/$n.sock" --data-root "$dir/$n/data" --exec-root "$dir/$n/exec" --pidfile "$dir/$n/dockerd.pid")
  if [ "$n" = b ]; then
    args+=(--bridge none --iptables=false)
    args+=(-H "tcp://127.0.0.1:$(cat "$dir/b.tls-port")" --tlsverify --tlscacert "$dir/tls/ca.pem"
      --tlscert "$dir/tls/server.pem" --tlskey "$dir/tls/server-key.pem")
  else
    args+=(--bridge "$(bridge_name)")
  fi
  printf '%s\n' "${args[@]}"
}

# cpu_cgroup_root: where ENGINES_CPU_CGROUP is made: the cgroup v1 cpuacct hierarchy, or the v2 unified one.
cpu_cgroup_root() {
  if [ -d /sys/fs/cgroup/cpuacct ] && [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then echo /sys/fs/cgroup/cpuacct; else echo /sys/fs/cgroup; fi
}

start_engine() { # start_engine NAME
  local n=$1
  if [ -f "$dir/$n/dockerd.pid" ] && kill -0 "$(cat "$dir/$n/dockerd.pid")" 2>/dev/null; then return 0; fi
  mkdir -p "$dir/$n"
  if [ "$n" = a ]; then make_bridge; fi
  mapfile -t args < <(engine_args "$n")
  if [ -n "${ENGINES_CPU_CGROUP:-}" ]; then
    # The daemon in a leaf of its own (cgroup v2 allows no processes beside child groups), its containers beside it.
    local procs
    procs="$(cpu_cgroup_root)/$ENGINES_CPU_CGROUP/$n/daemon"
    mkdir -p "$procs"
    args+=(--cgroup-parent "/$ENGINES_CPU_CGROUP/$n/containers")
    # shellcheck disable=SC2016 # expanded by the inner shell
    setsid sh -c 'echo $$ >"$0/cgroup.procs" && exec dockerd "$@"' "$procs" "${args[@]}" >>"$dir/$n/dockerd.log" 2>&1 </dev/null &
  else
    setsid dockerd "${args[@]}" >>"$dir/$n/dockerd.log" 2>&1 </dev/null &
  fi
  local deadline=$((SECONDS + 60))
  until DOCKER_HOST="unix://$dir/$n.sock" "$DOCKER" info >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then tail -20 "$dir/$n/dockerd.log" >&2; log "engine $n did not answer within 60 s"; return 1; fi
    sleep 0.2
  done
}

stop_engine() { # stop_engine NAME: TERM dockerd (it stops its containers and its containerd), bounded, then verify
  local n=$1 pid=""
  [ -f "$dir/$n/dockerd.pid" ] && pid=$(cat "$dir/$n/dockerd.pid")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    local deadline=$((SECONDS + 40))
    while kill -0 "$pid" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then log "dockerd $n (pid $pid) ignored TERM for 40 s; KILL"; kill -KILL "$pid"; fi
      sleep 0.1
    done
  fi
  # Its containerd and shims name the exec-root on their command lines.
  local deadline=$((SECONDS + 20)) left
  while left=$(pgrep -f -- "$dir/$n/exec" || true); [ -n "$left" ]; do
    # shellcheck disable=SC2086 # one pid per word
    if [ $SECONDS -ge $deadline ]; then log "killing what engine $n left: $left"; kill -KILL $left 2>/dev/null || true; sleep 0.5; break; fi
    sleep 0.1
  done
  rm -f "$dir/$n/dockerd.pid"
}

image_hash() {
  cat "${SANDBOXD_PATH:?set SANDBOXD_PATH to the published agent}" "$repo/Dockerfile.agent" | sha256sum | cut -c1-16
}

load_image() {
  local cache="$repo/tests/.cache" hash image
  hash=$(image_hash)
  image="sandboxd-test:$hash"
  mkdir -p "$cache"
  local tar="$cache/docker-agent-$hash.tar"
  if [ ! -f "$tar" ]; then
    if [ ! -f "$cache/rootfs.tar" ]; then
      log "no tests/.cache/rootfs.tar: debootstrap bookworm (≈ 3 min, once)"
      command -v debootstrap >/dev/null || { log "debootstrap is not installed"; return 1; }
      debootstrap --variant=minbase bookworm "$dir/bootstrap" http://deb.debian.org/debian >"$dir/debootstrap.log" 2>&1 || { tail -20 "$dir/debootstrap.log" >&2; return 1; }
      tar -C "$dir/bootstrap" -cf "$cache/rootfs.tar.partial" . && mv "$cache/rootfs.tar.partial" "$cache/rootfs.tar" && rm -rf "$dir/bootstrap"
    fi
    export DOCKER_HOST="unix://$dir/a.sock"
    "$DOCKER" import "$cache/rootfs.tar" sandboxd-test-base:latest >/dev/null
    mkdir -p "$dir/ctx" && cp "$SANDBOXD_PATH" "$dir/ctx/sandboxd"
    DOCKER_BUILDKIT=1 "$DOCKER" build -q -f "$repo/Dockerfile.agent" --build-arg BINARY_FROM=prebuilt \
      --build-arg RUNTIME_IMAGE=sandboxd-test-base:latest -t "$image" "$dir/ctx" >"$dir/build.log" 2>&1 || { tail -30 "$dir/build.log" >&2; return 1; }
    "$DOCKER" save "$image" -o "$tar.partial" && mv "$tar.partial" "$tar"
    # Older images of earlier binaries are not needed any more.
    find "$cache" -maxdepth 1 -name 'docker-agent-*.tar' ! -name "docker-agent-$hash.tar" -delete
  fi
  for n in a b; do DOCKER_HOST="unix://$dir/$n.sock" "$DOCKER" load -q -i "$tar" >/dev/null; done
  echo "$image"
}

case "$cmd" in
  up)
    if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null || [ -z "$DOCKER" ]; then
      log "SKIP: the docker-provider tests need root and Debian's docker.io (dockerd + docker): apt-get install docker.io"
      exit 77
    fi
    mkdir -p "$dir"
    make_tls
    start_engine a
    start_engine b
    image=$(load_image)
    echo "DOCKER_A=unix://$dir/a.sock"
    echo "DOCKER_B=unix://$dir/b.sock"
    echo "DOCKER_B_TLS=tcp://127.0.0.1:$(cat "$dir/b.tls-port")"
    echo "TLS_CLIENT=$dir/tls/client"
    echo "TLS_STRANGER=$dir/tls/stranger"
    echo "IMAGE=$image"
    ;;
  stop) stop_engine "${3:?engine name}" ;;
  start) start_engine "${3:?engine name}" ;;
  down)
    stop_engine a
    stop_engine b
    # Anything still mounted under DIR (overlays, shm, netns) goes before the directory does.
    { grep -F " $dir/" /proc/mounts || true; } | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    ip link del "$(bridge_name)" 2>/dev/null || true
    # dockerd leaves its iptables rules for engine a's bridge behind: delete exactly those (other rules untouched).
    if command -v iptables >/dev/null; then
      for table in nat filter; do
        iptables -t "$table" -S 2>/dev/null | grep -F -- "$(bridge_name)" | sed 's/^-A /-D /' | while read -r rule; do
          # shellcheck disable=SC2086 # the rule is iptables' own words
          iptables -t "$table" $rule 2>/dev/null || true
        done
      done
    fi
    if [ -n "${ENGINES_CPU_CGROUP:-}" ]; then
      # Every hierarchy the containers were made in (--cgroup-parent applies to each controller), deepest first.
      for root in /sys/fs/cgroup /sys/fs/cgroup/*; do
        [ -d "$root/$ENGINES_CPU_CGROUP" ] || continue
        find "$root/$ENGINES_CPU_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || log "could not remove every cgroup under $root/$ENGINES_CPU_CGROUP"
      done
    fi
    rm -rf "$dir"
    ;;
  *) log "unknown command $cmd"; exit 2 ;;
esac
