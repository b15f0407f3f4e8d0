#!/usr/bin/env bash
# files: throughput of one large file through the raw file routes (PUT /files/{path}, GET with
# Accept: application/octet-stream) beside `cat` to /dev/null, `cp` and `dd conv=fsync` on the same disk, and nginx
# (sendfile on, WebDAV PUT) when it is installed (BENCH_FILES_NGINX=install installs Debian's package) — all in the same
# run. Every row is the median of FILES_REPEAT transfers, the rows interleaved round by round (ours, nginx, ours, nginx…)
# so that a drift in the machine's load hits all of them; `sync` (untimed) before every transfer, so none pays for the
# write-back of the one before. The agent's RSS is sampled every 50 ms from its start to the end of the run.
# Prints one table (MiB/s min / median / max), the ratios, the RSS growth; refuses figures from a busy machine (lib.sh).
# Tunables (env): FILES_MIB (1024), FILES_REPEAT (5; 1 under BENCH_SMOKE=1), BENCH_FILES_NGINX (use|install|skip).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$bench/lib.sh"
mib=${FILES_MIB:-1024}
repeat=${FILES_REPEAT:-$([ "${BENCH_SMOKE:-0}" = 1 ] && echo 1 || echo 5)}
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
echo "== load before: $load_before; $mib MiB, $repeat transfer(s) per row"
head -c $((mib * 1048576)) /dev/urandom >"$work/source.bin"
sync

# timed CMD...: runs CMD (its output to /dev/null) after an untimed sync; prints the seconds it took.
timed() {
  local t0 t1
  sync
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
}
# fsync_file PATH: fsync(2) of PATH and of its directory — what our PUT does after writing (python3: no compiler needed).
fsync_file() {
  python3 -c 'import os, sys
for p in (sys.argv[1], os.path.dirname(sys.argv[1])):
    fd = os.open(p, os.O_RDONLY); os.fsync(fd); os.close(fd)' "$1"
}
# Seconds per transfer, one list per row (name → "s s s"); the rows in the order they are printed.
declare -A times=()
rows=()
record() {
  [ -n "${times[$1]+x}" ] || rows+=("$1")
  times[$1]="${times[$1]:-} $2"
}
# median_s ROW: the median of the row's seconds.
# (an even count takes the lower of the two middle times: shellcheck-friendly and the same in the table below).
median_s() { tr ' ' '\n' <<<"${times[$1]}" | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END { print v[int((NR + 1) / 2)] }'; }

have_nginx=0
if command -v nginx >/dev/null && [ "$nginx_mode" != skip ]; then have_nginx=1; fi

start_agent "$work/agent" Warning B
rss_before=$(rss_kb "$agent_pid")
echo "$rss_before" >"$work/peak"
(peak=$rss_before; while kill -0 "$agent_pid" 2>/dev/null; do r=$(rss_kb "$agent_pid"); [ "$r" = "?" ] || [ "$r" -le "$peak" ] || { peak=$r; echo "$peak" >"$work/peak"; }; sleep 0.05; done) &
sampler_pid=$!

if [ "$have_nginx" = 1 ]; then
  nginx_version=$(nginx -v 2>&1 | sed 's/.*\///')
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
fi

agent_put() { curl -sf -o /dev/null -H "Authorization: Bearer B" -T "$work/source.bin" "$url/files/up.bin"; }
agent_get() { curl -sf -o /dev/null -H "Authorization: Bearer B" -H "Accept: application/octet-stream" "$url/files/up.bin"; }
nginx_put() { curl -sf -o /dev/null -T "$work/source.bin" "http://127.0.0.1:$port/up.bin"; }
nginx_put_fsync() { nginx_put && fsync_file "$work/nginx/www/up.bin"; }
nginx_get() { curl -sf -o /dev/null "http://127.0.0.1:$port/source.bin"; }
dd_fsync() { dd if="$work/source.bin" of="$work/dd.bin" bs=1M conv=fsync status=none; }

for round in $(seq "$repeat"); do
  record "cat → /dev/null" "$(timed cat "$work/source.bin")"
  record "cp (same disk, no fsync)" "$(timed cp "$work/source.bin" "$work/copy.bin")"
  rm -f "$work/copy.bin"
  record "dd conv=fsync (disk floor)" "$(timed dd_fsync)"
  rm -f "$work/dd.bin"
  # Uploads: ours, nginx's plain PUT, nginx's PUT + fsync; each target removed before (untimed) so all create a file.
  rm -f "$work/agent/root/up.bin"
  record "sandboxd PUT /files (fsync)" "$(timed agent_put)"
  cmp -s "$work/source.bin" "$work/agent/root/up.bin" || { echo "uploaded file differs (round $round)" >&2; exit 1; }
  if [ "$have_nginx" = 1 ]; then
    rm -f "$work/nginx/www/up.bin"
    record "nginx WebDAV PUT (no fsync)" "$(timed nginx_put)"
    cmp -s "$work/source.bin" "$work/nginx/www/up.bin" || { echo "nginx's uploaded file differs (round $round)" >&2; exit 1; }
    rm -f "$work/nginx/www/up.bin"
    record "nginx PUT + fsync (durable peer)" "$(timed nginx_put_fsync)"
  fi
  # Downloads (both from the page cache: the file was just written or read).
  record "sandboxd GET raw (download)" "$(timed agent_get)"
  [ "$have_nginx" = 0 ] || record "nginx GET sendfile (download)" "$(timed nginx_get)"
done
rss_after=$(rss_kb "$agent_pid")
stop_pid "$sampler_pid"; sampler_pid=""
rss_peak=$(cat "$work/peak")

if [ "$have_nginx" = 1 ]; then
  stop_pid "$nginx_pid"; nginx_pid=""
  for p in $nginx_workers; do
    if kill -0 "$p" 2>/dev/null; then echo "nginx worker $p still running after the master stopped" >&2; kill -KILL "$p"; exit 1; fi
  done
  echo "nginx $nginx_version stopped (master and workers: $nginx_workers gone)"
else
  echo "== nginx: not installed — not measured, no ratios (apt-get install nginx-light, or BENCH_FILES_NGINX=install)"
fi
stop_agent

machine_meta --load-before "$load_before" --load-after "$(loadavg)" --dirty "agent bench/files"
# shellcheck disable=SC2154 # meta: set by machine_meta (lib.sh)
echo "machine: $(printf '%s ' "${meta[@]}" | sed 's/--meta //g')"
printf '%-36s %9s %9s %9s  (MiB/s over %s transfer(s) of %s MiB)\n' "row" "min" "median" "max" "$repeat" "$mib"
for row in "${rows[@]}"; do
  tr ' ' '\n' <<<"${times[$row]}" | sed '/^$/d' | sort -g | awk -v m="$mib" -v l="$row" '{ t[NR] = $1 } END {
    printf "%-36s %9.1f %9.1f %9.1f\n", l, m / t[NR], m / t[int((NR + 1) / 2)], m / t[1] }'
done
# ratio LABEL OURS PEER: sandboxd's median throughput over the peer's (= the peer's median time over ours).
ratio() {
  awk -v a="$(median_s "$2")" -v b="$(median_s "$3")" -v l="$1" -v t="${4:-}" 'BEGIN { r = b / a
    printf "ratio %-48s %.2f×%s\n", l, r, (t == "" ? "" : sprintf(" (target ≥ 0.7×: %s)", r >= 0.7 ? "met" : "MISSED")) }'
}
if [ "$have_nginx" = 1 ]; then
  ratio "raw GET / nginx GET:" "sandboxd GET raw (download)" "nginx GET sendfile (download)" target
  ratio "raw PUT / nginx PUT (the issue's target):" "sandboxd PUT /files (fsync)" "nginx WebDAV PUT (no fsync)" target
  ratio "raw PUT / nginx PUT + fsync (like for like):" "sandboxd PUT /files (fsync)" "nginx PUT + fsync (durable peer)"
fi
ratio "raw PUT / dd conv=fsync (disk floor):" "sandboxd PUT /files (fsync)" "dd conv=fsync (disk floor)"
growth=$(( (rss_peak - rss_before) / 1024 ))
echo "sandboxd RSS: ${rss_before} kB after start → ${rss_peak} kB peak, ${rss_after} kB after the last transfer" \
  "(growth +${growth} MiB; target < 16 MiB: $([ "$growth" -lt 16 ] && echo met || echo MISSED))"
