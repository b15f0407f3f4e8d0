#!/usr/bin/env bash
# exec-concurrency: exec under concurrency — N keep-alive connections issuing `run.command("true")` at once, beside N
# parallel spawners of the same program, for N in 1 4 16 64 (issue 17 item 2).
#   ours  — wrk (one thread by default) holding N keep-alive HTTP/1.1 connections, each issuing
#           POST /run/command {"command":"true"} with the bearer token back to back for EXEC_CONC_SECONDS
#           (command.lua sets the request and checks every response: non-200 or no "exit_code":0 is an error);
#   floor — spawnload.c: N threads, each a posix_spawn + waitpid loop of /bin/sh -c true, for the same time.
# Per N the two are interleaved (ours first at even positions, the floor first at odd ones), so load drift weighs on
# both. Reports commands/s beside spawns/s (ratio; target >= 0.8x), p50/p99 of each, errors (target none), and the
# CPU each side spent per command (agent process, its children, wrk; the floor's spawner and its children).
# Prints one table and writes bench/results/exec-concurrency.json (+ .txt).
#
# Needs SANDBOXD_PATH (the published agent), gcc, wrk, python3: bench/run.sh provides them.
# Tunables (env): EXEC_CONC_LEVELS ("1 4 16 64"), EXEC_CONC_SECONDS (5, whole seconds: wrk's -d),
#                 EXEC_CONC_WARMUP_SECONDS (2; 0 = none), EXEC_CONC_WRK_THREADS (1), PYTHON (/usr/bin/python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$bench/lib.sh"
read -r -a levels <<<"${EXEC_CONC_LEVELS:-1 4 16 64}"
seconds=${EXEC_CONC_SECONDS:-5}
warmup=${EXEC_CONC_WARMUP_SECONDS:-2}
wrk_threads=${EXEC_CONC_WRK_THREADS:-1}
python=${PYTHON:-/usr/bin/python3}
for v in "$seconds" "$warmup" "$wrk_threads" "${levels[@]}"; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "EXEC_CONC_*: $v is not a whole number" >&2; exit 2; }
done
if [ "$seconds" -eq 0 ] || [ "$wrk_threads" -eq 0 ]; then echo "EXEC_CONC_SECONDS and EXEC_CONC_WRK_THREADS must be > 0" >&2; exit 2; fi
command -v gcc >/dev/null || apt_install gcc "need gcc (the floor is C): install it and re-run"
command -v wrk >/dev/null || apt_install wrk "need wrk (the load generator; Debian package wrk): install it and re-run"
[ -x "$python" ] || { echo "no python3 at $python (set PYTHON)" >&2; exit 1; }

stop_children() {
  stop_pid "$step_pid"
  stop_pid "$agent_pid"
  kill_leftovers "after stopping everything" # spawnload and wrk are waited for; anything under $work left is a failure
}
begin_work sandboxd-bench-conc agent.err

gcc -O2 -Wall -Wextra -Werror -pthread -o "$work/spawnload" "$here/spawnload.c"
token="bench-$RANDOM$RANDOM"
start_agent "$work" Warning "$token"

# cpu_ticks PID FIELDS: the sum of /proc/PID/stat fields (numbered as in proc(5): 14 utime, 15 stime, 16 cutime,
# 17 cstime), split after the last ") " since comm may hold anything.
cpu_ticks() {
  local rest
  rest=$(<"/proc/$1/stat")
  rest=${rest##*) }
  awk -v want="$2" '{ n = split(want, w, " "); t = 0; for (i = 1; i <= n; i++) t += $(w[i] - 2); printf "%.0f\n", t }' <<<"$rest"
}

# ours N SECONDS OUT: wrk with N connections for SECONDS, its done() line (and the CPU the agent, its children and wrk
# spent, in clock ticks) in OUT.
ours() {
  local n=$1 secs=$2 out=$3 t=$wrk_threads a0 c0 w0
  [ "$t" -le "$n" ] || t=$n
  a0=$(cpu_ticks "$agent_pid" "14 15"); c0=$(cpu_ticks "$agent_pid" "16 17"); w0=$(cpu_ticks $$ "16 17")
  step env BENCH_TOKEN="$token" timeout $((secs + 60)) wrk -t "$t" -c "$n" -d "${secs}s" --timeout 10s \
    -s "$here/command.lua" "${url%/}" >"$work/wrk.out" 2>&1 || { cat "$work/wrk.out" >&2; echo "wrk failed" >&2; exit 1; }
  grep -q '^requests=' "$work/wrk.out" || { cat "$work/wrk.out" >&2; echo "wrk printed no summary" >&2; exit 1; }
  { grep '^requests=' "$work/wrk.out" | tr '\n' ' '
    echo "agent_ticks=$(($(cpu_ticks "$agent_pid" "14 15") - a0)) children_ticks=$(($(cpu_ticks "$agent_pid" "16 17") - c0))" \
      "wrk_ticks=$(($(cpu_ticks $$ "16 17") - w0))"
    grep '^first bad response: ' "$work/wrk.out" || true
  } >"$out"
}

# floor N SECONDS OUT: spawnload with N threads for SECONDS; its summary line in OUT, latencies in OUT.lat.
floor() {
  step timeout $(($2 + 60)) "$work/spawnload" "$1" "$2" "$3.lat" /bin/sh -c true >"$3"
}

cpu_window_start # the run starts here (the load guard's window; lib.sh)
load_before=$(loadavg)
if [ "$warmup" -gt 0 ]; then
  echo "== warm-up: ${warmup}s of ours with 4 connections, ${warmup}s of the floor with 4 spawners"
  ours 4 "$warmup" "$work/warmup-ours.txt"
  floor 4 "$warmup" "$work/warmup-floor.txt"
fi
i=0
for n in "${levels[@]}"; do
  echo "== N=$n: ours (wrk, $n keep-alive connections, POST /run/command {\"command\":\"true\"}) and the floor" \
    "($n spawners of /bin/sh -c true), ${seconds}s each"
  if [ $((i % 2)) = 0 ]; then
    ours "$n" "$seconds" "$work/ours-$n.txt"; floor "$n" "$seconds" "$work/floor-$n.txt"
  else
    floor "$n" "$seconds" "$work/floor-$n.txt"; ours "$n" "$seconds" "$work/ours-$n.txt"
  fi
  i=$((i + 1))
done
agent_rss_kb=$(rss_kb "$agent_pid")
stop_agent

machine_meta --load-before "$load_before" --load-after "$(loadavg)" --dirty "agent"
echo
"$python" - "$work" "$results" "$(getconf CLK_TCK)" "${levels[*]}" "$seconds" \
  "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)" "${meta[@]}" --meta "agent_rss_kb_after=$agent_rss_kb" <<'PY' | tee "$results/exec-concurrency.txt"
import json, math, os, sys
work, results, hz, levels, seconds, wrk_version = sys.argv[1:7]
hz = float(hz)
meta = dict(m.split("=", 1) for m in sys.argv[8::2])
meta["wrk"] = wrk_version
meta["seconds_per_side"] = seconds

def kv(path):
    first = open(path).readline().split()
    return {k: float(v) for k, v in (w.split("=", 1) for w in first)}

def nearest_rank(sorted_ms, p):
    return sorted_ms[max(0, math.ceil(p / 100 * len(sorted_ms)) - 1)]

rows = []
for n in levels.split():
    o = kv(os.path.join(work, f"ours-{n}.txt"))
    f = kv(os.path.join(work, f"floor-{n}.txt"))
    lat = sorted(float(l) for l in open(os.path.join(work, f"floor-{n}.txt.lat")) if l.strip())
    bad = [l.strip() for l in open(os.path.join(work, f"ours-{n}.txt")) if l.startswith("first bad response: ")]
    reqs, spawns = int(o["requests"]), int(f["spawns"])
    errors = int(o["bad_status"] + o["bad_body"] + o["socket_errors"])
    ours_rate = reqs / o["seconds"] if o["seconds"] else 0.0
    floor_rate = spawns / f["seconds"] if f["seconds"] else 0.0
    per = lambda ticks, count: ticks / hz * 1e3 / count if count else 0.0
    rows.append({
        "n": int(n),
        "ours": {"requests": reqs, "seconds": o["seconds"], "per_s": ours_rate,
                 "p50_ms": o["p50_us"] / 1e3, "p99_ms": o["p99_us"] / 1e3, "max_ms": o["max_us"] / 1e3,
                 "errors": errors, "bad_status": int(o["bad_status"]), "bad_body": int(o["bad_body"]),
                 "socket_errors": int(o["socket_errors"]), "first_bad_response": bad[0][20:] if bad else None,
                 "agent_cpu_ms_per_command": per(o["agent_ticks"], reqs),
                 "children_cpu_ms_per_command": per(o["children_ticks"], reqs),
                 "wrk_cpu_ms_per_command": per(o["wrk_ticks"], reqs)},
        "floor": {"spawns": spawns, "seconds": f["seconds"], "per_s": floor_rate,
                  "p50_ms": nearest_rank(lat, 50) if lat else 0.0, "p99_ms": nearest_rank(lat, 99) if lat else 0.0,
                  "max_ms": lat[-1] if lat else 0.0,
                  "spawner_cpu_ms_per_spawn": f["self_cpu_s"] * 1e3 / spawns if spawns else 0.0,
                  "children_cpu_ms_per_spawn": f["children_cpu_s"] * 1e3 / spawns if spawns else 0.0},
        "ratio_throughput": ours_rate / floor_rate if floor_rate else 0.0,
    })

print("machine: " + "; ".join(f"{k}: {v}" for k, v in meta.items()))
hdr = (f"{'N':>3} {'ours cmd/s':>10} {'floor sp/s':>10} {'ratio':>6} {'ours p50':>9} {'ours p99':>9} {'p99/p50':>7} "
       f"{'floor p50':>9} {'floor p99':>9} {'errors':>6}   CPU ms per command: agent + sh (+ wrk) | floor: spawner + sh")
print(hdr)
print("-" * len(hdr))
for r in rows:
    o, f = r["ours"], r["floor"]
    print(f"{r['n']:>3} {o['per_s']:>10.0f} {f['per_s']:>10.0f} {r['ratio_throughput']:>5.2f}x {o['p50_ms']:>9.2f} "
          f"{o['p99_ms']:>9.2f} {o['p99_ms'] / o['p50_ms'] if o['p50_ms'] else 0:>6.1f}x {f['p50_ms']:>9.2f} "
          f"{f['p99_ms']:>9.2f} {o['errors']:>6}   {o['agent_cpu_ms_per_command']:.3f} + {o['children_cpu_ms_per_command']:.3f}"
          f" (+ {o['wrk_cpu_ms_per_command']:.3f}) | {f['spawner_cpu_ms_per_spawn']:.3f} + {f['children_cpu_ms_per_spawn']:.3f}")
print("(latencies in ms; ours p50/p99 from wrk's histogram, the floor's nearest-rank over every spawn)")
for r in rows:
    if r["ours"]["first_bad_response"]:
        print(f"N={r['n']}: first bad response: {r['ours']['first_bad_response']}")
ratios_ok = all(r["ratio_throughput"] >= 0.8 for r in rows)
errors = sum(r["ours"]["errors"] for r in rows)
top = max(rows, key=lambda r: r["n"])
tail = top["ours"]["p99_ms"] / top["ours"]["p50_ms"] if top["ours"]["p50_ms"] else float("inf")
met = lambda ok: "met" if ok else "MISSED"
ratios = ", ".join("%.2fx" % r["ratio_throughput"] for r in rows)
print(f"throughput ours/floor >= 0.8x at every N: {met(ratios_ok)} ({ratios}); errors: {errors} ({met(errors == 0)}); "
      f"p99 <= 5x p50 at N={top['n']}: {tail:.1f}x ({met(tail <= 5)})")
target = {"throughput_ratio_min": 0.8, "errors": 0, "p99_over_p50_max_at_top_n": 5.0,
          "throughput_met": ratios_ok, "errors_met": errors == 0, "tail_met": tail <= 5}
json.dump({"meta": meta, "results": rows, "target": target},
          open(os.path.join(results, "exec-concurrency.json"), "w"), indent=2)
PY
echo "results: $results/exec-concurrency.json"
