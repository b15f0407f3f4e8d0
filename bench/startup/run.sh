#!/usr/bin/env bash
# startup: how soon a freshly exec'd agent answers HTTP, and what it costs, beside a floor and peers in the same run.
#   exec → first 200 — bench/startup/startlat.c spawns the server, then polls GET every 0.5 ms until a 200:
#       sandboxd start (GET /health; fresh root and state each round),
#       floor: bench/startup/floor.c, the least a native process does to answer HTTP (socket, bind, listen, accept),
#       peers: node's http.createServer and python3 -m http.server (servers users start in a sandbox);
#   exec → exit — `sandboxd --version` (the runtime's own start, before any hosting) and /bin/true (exec itself);
#   idle RSS after the first answer, and the binary's size.
# Prints one table and writes bench/results/startup.json (+ .txt).
# Tunables (env): STARTUP_ROUNDS (20), PYTHON (/usr/bin/python3), NODE (node).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$bench/lib.sh"
rounds=${STARTUP_ROUNDS:-20}
python=${PYTHON:-/usr/bin/python3}
node=${NODE:-node}
command -v gcc >/dev/null || apt_install gcc "need gcc (the measurer and the floor are C): install it and re-run"
[ -x "$python" ] || { echo "no python3 at $python (set PYTHON)" >&2; exit 1; }
command -v "$node" >/dev/null || { echo "no node (set NODE)" >&2; exit 1; }

stop_children() {
  stop_pid "$step_pid"
  kill_leftovers "after the run" # startlat stops each server it starts; anything under $work left is a failure
}
begin_work sandboxd-bench-startup

gcc -O2 -Wall -o "$work/startlat" "$here/startlat.c"
gcc -O2 -Wall -o "$work/floor" "$here/floor.c"
port=$(free_ports "$python" 1)
mkdir -p "$work/root" "$work/state" "$work/home" "$work/www"
echo ok > "$work/www/index.html"
load_before=$(loadavg)

# measure NAME PATH COMMAND...: $rounds rounds of exec → first 200 on PATH (from $work/root; HOME is an empty dir).
measure() {
  local name=$1 path=$2
  shift 2
  echo "== $name: $rounds rounds"
  cd "$work/root"
  step env HOME="$work/home" timeout 600 "$work/startlat" "$port" "$path" "$rounds" -- "$@" >"$work/$name.txt"
  cd "$repo"
}
# Interleaved in two halves, so a burst of load does not land on one contender only.
half=$((rounds / 2)); rest=$((rounds - half))
for part in 1 2; do
  n=$half; [ $part = 1 ] || n=$rest
  rounds=$n
  measure "sandboxd-$part" /health "$SANDBOXD_PATH" start --port "$port" --host 127.0.0.1 --access-token B \
    --root "$work/root" --state-dir "$work/state" --log-level Warning
  measure "floor-$part" / "$work/floor" "$port"
  measure "node-$part" / "$node" -e "require('http').createServer((q,s)=>s.end('ok')).listen($port,'127.0.0.1')" "$work/node"
  measure "python-$part" / "$python" -m http.server "$port" --bind 127.0.0.1 --directory "$work/www"
  echo "== exec → exit: $n rounds each"
  step "$work/startlat" exit "$n" -- "$SANDBOXD_PATH" --version >"$work/version-$part.txt"
  step "$work/startlat" exit "$n" -- /bin/true >"$work/true-$part.txt"
done
rounds=$((half + rest))
for f in sandboxd floor node python version true; do cat "$work/$f-1.txt" "$work/$f-2.txt" >"$work/$f.txt"; done

machine_meta --load-before "$load_before" --load-after "$(loadavg)" --dirty "agent client"
"$python" - "$work" "$results" "$SANDBOXD_PATH" "$("$node" --version)" "$("$python" --version 2>&1)" "${meta[@]}" <<'PY' | tee "$results/startup.txt"
import json, os, statistics, sys
work, results, binary, node_v, python_v = sys.argv[1:6]
meta = dict(m.split("=", 1) for m in sys.argv[7::2])
def load(name):
    rows = [l.split() for l in open(os.path.join(work, name + ".txt")) if l.strip()]
    ms = sorted(float(r[0]) for r in rows)
    rss = [int(r[1]) for r in rows]
    cpu = [float(r[2]) for r in rows if len(r) > 2 and float(r[2]) >= 0]
    q = lambda p: ms[min(len(ms) - 1, int(round(p * (len(ms) - 1))))]
    return {"n": len(ms), "min_ms": ms[0], "p50_ms": q(0.5), "p90_ms": q(0.9), "max_ms": ms[-1],
            "rss_kb_p50": int(statistics.median(rss)) if any(rss) else None,
            "cpu_ms_p50": statistics.median(cpu) if cpu else None}
rows = {k: load(k) for k in ["sandboxd", "floor", "node", "python", "version", "true"]}
labels = {
    "sandboxd": "sandboxd start → GET /health 200",
    "floor": "floor: C server (socket/bind/listen/accept) → 200",
    "node": f"node http.createServer → 200 ({node_v})",
    "python": f"python3 -m http.server → 200 ({python_v})",
    "version": "sandboxd --version: exec → exit",
    "true": "/bin/true: exec → exit",
}
busy = False
try:
    busy = float(meta.get("loadavg_before", "0").split()[0]) > int(meta.get("nproc", "2")) / 2
except ValueError:
    pass
print("machine: " + "; ".join(f"{k}: {v}" for k, v in meta.items()) + ("  [BUSY: load above nproc/2]" if busy else ""))
print(f"{'measure':<58} {'p50 ms':>8} {'p90 ms':>8} {'min ms':>8} {'CPU ms':>7} {'RSS MB':>7}")
for k, r in rows.items():
    rss = f"{r['rss_kb_p50'] / 1024:.1f}" if r["rss_kb_p50"] else "-"
    cpu = f"{r['cpu_ms_p50']:.1f}" if r["cpu_ms_p50"] is not None else "-"
    print(f"{labels[k]:<58} {r['p50_ms']:>8.2f} {r['p90_ms']:>8.2f} {r['min_ms']:>8.2f} {cpu:>7} {rss:>7}")
s, f = rows["sandboxd"]["p50_ms"], rows["floor"]["p50_ms"]
print(f"sandboxd / floor = {s / f:.1f}x; sandboxd / node = {s / rows['node']['p50_ms']:.2f}x; "
      f"sandboxd / python http.server = {s / rows['python']['p50_ms']:.2f}x (p50, same run)")
if rows["sandboxd"]["cpu_ms_p50"] and rows["version"]["cpu_ms_p50"]:
    print(f"CPU (all threads, p50; moves far less with load than wall time): start → /health {rows['sandboxd']['cpu_ms_p50']:.1f} ms, "
          f"--version {rows['version']['cpu_ms_p50']:.1f} ms = {rows['sandboxd']['cpu_ms_p50'] / rows['version']['cpu_ms_p50']:.2f}x")
print(f"of which the runtime's own start (--version − /bin/true): {rows['version']['p50_ms'] - rows['true']['p50_ms']:.1f} ms; "
      f"binary {os.path.getsize(binary) / 1e6:.1f} MB")
json.dump({"meta": meta, "binary_bytes": os.path.getsize(binary), "results": rows}, open(os.path.join(results, "startup.json"), "w"), indent=2)
PY
echo "results: $results/startup.json"
