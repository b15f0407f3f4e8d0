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

echo "== sandboxd raw routes (curl, as for nginx below)"
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
rss_peak=$(cat "$work/peak" 2>/dev/null || echo "$rss_before")
growth=$(( (rss_peak - rss_before) / 1024 ))
echo "sandboxd RSS: ${rss_before} kB before → ${rss_peak} kB peak (+${growth} MiB; target < 16 MiB: $([ "$growth" -lt 16 ] && echo met || echo MISSED))"
stop_agent

if command -v nginx >/dev/null && [ "$nginx_mode" != skip ]; then
  echo "== nginx $(nginx -v 2>&1 | sed 's/.*\///') (sendfile on, dav_methods PUT, its own prefix and config in the run's temp dir)"
  port=$(free_ports python3 1)
  mkdir -p "$work/nginx/www" "$work/nginx/tmp" "$work/nginx/logs"
  cp "$work/source.bin" "$work/nginx/www/source.bin"
  # As root the workers would switch to nobody, who cannot enter the run's 0700 temp dir.
  user_line=""; [ "$(id -u)" != 0 ] || user_line="user root;"
  cat >"$work/nginx/nginx.conf" <<CONF
daemon off; master_process on; worker_processes 1; $user_line
error_log $work/nginx/logs/error.log; pid $work/nginx/nginx.pid;
events { worker_connections 64; }
http { access_log off; sendfile on; tcp_nopush on; client_max_body_size 0; client_body_temp_path $work/nginx/tmp;
  client_body_buffer_size 1m;
  server { listen 127.0.0.1:$port; root $work/nginx/www; dav_methods PUT; create_full_put_path on; } }
CONF
  nginx -t -q -c "$work/nginx/nginx.conf" -p "$work/nginx" -e "$work/nginx/logs/error.log"
  nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -e "$work/nginx/logs/error.log" &
  nginx_pid=$!
  wait_until "$nginx_pid" "curl -sf -o /dev/null http://127.0.0.1:$port/source.bin -r 0-0" 10
  nginx_workers=$(pgrep -P "$nginx_pid" | tr '\n' ' ')
  ngx_up=$(timed curl -sf -o /dev/null -T "$work/source.bin" "http://127.0.0.1:$port/up.bin")
  ngx_down=$(timed curl -sf -o /dev/null "http://127.0.0.1:$port/source.bin")
  cmp -s "$work/source.bin" "$work/nginx/www/up.bin" || { echo "nginx's uploaded file differs" >&2; exit 1; }
  rate "nginx WebDAV PUT (upload)" "$ngx_up"
  rate "nginx GET sendfile (download)" "$ngx_down"
  stop_pid "$nginx_pid"; nginx_pid=""
  for p in $nginx_workers; do
    if kill -0 "$p" 2>/dev/null; then echo "nginx worker $p still running after the master stopped" >&2; kill -KILL "$p"; exit 1; fi
  done
  echo "nginx stopped (master and workers: $nginx_workers gone)"
  # Ratios from this run: sandboxd's throughput over nginx's (time of nginx over time of sandboxd); target ≥ 0.7 each way.
  awk -v a="$down" -v b="$ngx_down" 'BEGIN { r = b / a; printf "ratio raw GET / nginx GET: %.2f× (target ≥ 0.7×: %s)\n", r, (r >= 0.7 ? "met" : "MISSED") }'
  awk -v a="$up" -v b="$ngx_up" 'BEGIN { r = b / a; printf "ratio raw PUT / nginx PUT: %.2f× (target ≥ 0.7×: %s)\n", r, (r >= 0.7 ? "met" : "MISSED") }'
else
  echo "== nginx: not installed — not measured, no ratios (apt-get install nginx-light, or BENCH_FILES_NGINX=install)"
fi
echo "== load after: $(loadavg) (nproc $(nproc))"
