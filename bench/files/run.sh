#!/usr/bin/env bash
# files: throughput of one large file through the raw file routes (PUT /files/{path}, GET with
# Accept: application/octet-stream) beside `cat` to /dev/null and `cp` on the same disk, and nginx (sendfile on, WebDAV
# PUT) when it is installed (BENCH_FILES_NGINX=install installs Debian's package) — all in the same run; the agent's
# RSS is sampled every 50 ms during its transfers. Prints one table (MiB/s, agent RSS before → peak).
# Tunables (env): FILES_MIB (1024), BENCH_FILES_NGINX (use|install|skip; default use).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$bench/lib.sh"
mib=${FILES_MIB:-1024}
nginx_mode=${BENCH_FILES_NGINX:-use}
nginx_pid=""
sampler_pid=""

stop_children() {
  stop_pid "$step_pid"
  stop_pid "$sampler_pid"
  stop_pid "$nginx_pid"
  stop_agent
  kill_leftovers "after the run"
}
begin_work sandboxd-bench-files agent.err

if [ "$nginx_mode" = install ] && ! command -v nginx >/dev/null; then
  apt_install nginx-light "need nginx (BENCH_FILES_NGINX=install)" || apt_install nginx "need nginx"
fi
load_before=$(loadavg)
echo "== load before: $load_before"
head -c $((mib * 1048576)) /dev/urandom >"$work/source.bin"
sync

# rate LABEL SECONDS: MiB/s for the file's size.
rate() { awk -v m="$mib" -v s="$2" -v l="$1" 'BEGIN { printf "%-34s %8.1f MiB/s  (%.2f s)\n", l, m / s, s }'; }
timed() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'; }

echo "== cat / cp"
rate "cat → /dev/null" "$(timed cat "$work/source.bin")"
rate "cp (same disk)" "$(timed cp "$work/source.bin" "$work/copy.bin")"
rm -f "$work/copy.bin"

echo "== sandboxd raw routes"
start_agent "$work/agent" Warning B
rss_before=$(rss_kb "$agent_pid")
(peak=0; while kill -0 "$agent_pid" 2>/dev/null; do r=$(rss_kb "$agent_pid"); [ "$r" = "?" ] || [ "$r" -le "$peak" ] || { peak=$r; echo "$peak" >"$work/peak"; }; sleep 0.05; done) &
sampler_pid=$!
up=$(timed curl -sf -o /dev/null -H "Authorization: Bearer B" -T "$work/source.bin" "$url/files/up.bin")
down=$(timed curl -sf -o /dev/null -H "Authorization: Bearer B" -H "Accept: application/octet-stream" "$url/files/up.bin")
cmp -s "$work/source.bin" "$work/agent/root/up.bin" || { echo "uploaded file differs" >&2; exit 1; }
rate "sandboxd PUT /files (upload)" "$up"
rate "sandboxd GET raw (download)" "$down"
stop_pid "$sampler_pid"; sampler_pid=""
echo "sandboxd RSS: ${rss_before} kB before → $(cat "$work/peak" 2>/dev/null || echo "$rss_before") kB peak"
stop_agent

if command -v nginx >/dev/null && [ "$nginx_mode" != skip ]; then
  echo "== nginx (sendfile on, dav_methods PUT)"
  port=$(free_ports python3 1)
  mkdir -p "$work/nginx/www" "$work/nginx/tmp"
  cp "$work/source.bin" "$work/nginx/www/source.bin"
  cat >"$work/nginx/nginx.conf" <<CONF
daemon off; worker_processes 1; error_log $work/nginx/error.log; pid $work/nginx/nginx.pid;
events { worker_connections 64; }
http { access_log off; sendfile on; client_max_body_size 0; client_body_temp_path $work/nginx/tmp;
  server { listen 127.0.0.1:$port; root $work/nginx/www; dav_methods PUT; create_full_put_path on; } }
CONF
  nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
  nginx_pid=$!
  wait_until "$nginx_pid" "curl -sf -o /dev/null http://127.0.0.1:$port/source.bin -r 0-0" 10
  rate "nginx WebDAV PUT (upload)" "$(timed curl -sf -o /dev/null -T "$work/source.bin" "http://127.0.0.1:$port/up.bin")"
  rate "nginx GET sendfile (download)" "$(timed curl -sf -o /dev/null "http://127.0.0.1:$port/source.bin")"
  stop_pid "$nginx_pid"; nginx_pid=""
else
  echo "== nginx: not installed — not measured (BENCH_FILES_NGINX=install installs it)"
fi
echo "== load after: $(loadavg)"
