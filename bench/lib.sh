# shellcheck shell=bash
# What the benchmark scripts (bench/<name>/run.sh) share. Each sources it first thing, after `set -euo pipefail`:
#   here=$(cd "$(dirname "$0")" && pwd)
#   bench=$(dirname "$here")
#   . "$bench/lib.sh"
# Sourcing checks SANDBOXD_PATH (made absolute) and sets repo and results (bench/results, created).
#
# A script then sets its own pid variables (empty) and calls begin_work, which makes $work and installs the traps; on
# exit, INT (130) or TERM (143), cleanup runs the script's stop_children, shows the tail of the script's logs after a
# failure, removes $work and exits with the script's status.
# repo, results, url and meta are set here for the scripts that source this file.
# shellcheck disable=SC2034

: "${SANDBOXD_PATH:?set SANDBOXD_PATH to the published sandboxd (bench/run.sh does)}"
SANDBOXD_PATH=$(realpath "$SANDBOXD_PATH")
# shellcheck disable=SC2154 # bench: set by the script before it sources this file
repo=$(dirname "$bench")
# BENCH_RESULTS: where reports go (bench/run.sh --smoke points it at a temporary directory: smoke figures are never
# published).
results="${BENCH_RESULTS:-$bench/results}"
mkdir -p "$results"

# --- the load guard (bench/README.md, "Figures from a busy machine are refused") --------------------------------------
# Before a run, the 1-minute load average says whether the machine is quiet. After a run it cannot: on 2 cores a
# CPU-bound benchmark raises it above nproc/2 by itself. So after the run the guard measures what the OTHER processes
# did during it: the machine's busy CPU time (/proc/stat) minus this benchmark's own (this script and every process it
# started, reaped or still running), over the run's wall time.

# machine_busy_jiffies: busy CPU time of the whole machine since boot, in clock ticks (/proc/stat's cpu line:
# user + nice + system + irq + softirq + steal; guest time is already inside user).
machine_busy_jiffies() {
  awk '$1 == "cpu" { printf "%.0f\n", $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# cgroup_jiffies: CPU time, in clock ticks, of the cgroups named in BENCH_OWN_CGROUPS (paths below the cgroup root,
# space-separated): work this benchmark caused outside its process tree, such as a Docker engine's daemons, shims and
# containers (tests/docker/engines.sh, ENGINES_CPU_CGROUP). A cgroup's figure holds its exited processes too (v1
# cpuacct.usage in ns, v2 cpu.stat usage_usec); one not made yet counts 0.
cgroup_jiffies() {
  local hz total=0 cg ns
  hz=$(getconf CLK_TCK)
  for cg in ${BENCH_OWN_CGROUPS:-}; do
    ns=0
    if [ -r "/sys/fs/cgroup/cpuacct/$cg/cpuacct.usage" ]; then
      ns=$(cat "/sys/fs/cgroup/cpuacct/$cg/cpuacct.usage")
    elif [ -r "/sys/fs/cgroup/$cg/cpu.stat" ]; then
      ns=$(awk '$1 == "usage_usec" { printf "%.0f", $2 * 1000 }' "/sys/fs/cgroup/$cg/cpu.stat")
    fi
    total=$(awk -v t="$total" -v ns="${ns:-0}" -v hz="$hz" 'BEGIN { printf "%.0f", t + ns * hz / 1e9 }')
  done
  echo "$total"
}

# own_jiffies: CPU time, in clock ticks, of this script ($$) and everything it started (plus cgroup_jiffies): for $$ and each of its live
# descendants utime + stime + cutime + cstime (/proc/PID/stat). A child that exited and was waited for is in its
# waiter's cutime/cstime exactly once, so the sum counts every process once, reaped or running. Not counted: a
# descendant that detached (double fork, a daemon: its parent becomes init) — its CPU shows up as the others'.
own_jiffies() {
  # cat skips the processes that exit between the glob and the read (and then fails: pipefail); comm may hold spaces
  # and ')', so the fields are split after the last ") ".
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$$" -v extra="$(cgroup_jiffies)" '
    {
      pid = $1; rest = $0
      sub(/^.*\) /, "", rest)
      split(rest, f, " ")
      parent[pid] = f[2]; ticks[pid] = f[12] + f[13] + f[14] + f[15]
    }
    END {
      tree[root] = 1
      for (grew = 1; grew; ) {
        grew = 0
        for (p in parent) if (!(p in tree) && (parent[p] in tree)) { tree[p] = 1; grew = 1 }
      }
      total = extra
      for (p in tree) total += ticks[p]
      printf "%.0f\n", total
    }'
}

# cpu_window_start: starts the window the after-the-run check looks at. Done when lib.sh is sourced, and again by
# build_tool after a build (building a measurer is not the run; and `dotnet build` leaves server processes behind
# whose CPU would count as the others').
cpu_window_start() {
  cpu_t0_busy=$(machine_busy_jiffies)
  cpu_t0_own=$(own_jiffies)
  cpu_t0_uptime=$(cut -d' ' -f1 /proc/uptime)
}
cpu_window_start

# cpu_window_read: sets, for the window so far, cpu_seconds (wall time), cpu_machine (busy CPUs of the machine on
# average), cpu_own (this benchmark's) and cpu_others (= machine − own: how many CPUs the other processes kept busy
# on average), all formatted with two decimals.
cpu_window_read() {
  local busy own now
  own=$(own_jiffies)
  busy=$(machine_busy_jiffies)
  now=$(cut -d' ' -f1 /proc/uptime)
  read -r cpu_seconds cpu_machine cpu_own cpu_others < <(awk -v b0="$cpu_t0_busy" -v b1="$busy" -v o0="$cpu_t0_own" \
    -v o1="$own" -v t0="$cpu_t0_uptime" -v t1="$now" -v hz="$(getconf CLK_TCK)" 'BEGIN {
      s = t1 - t0; if (s < 0.01) s = 0.01
      m = (b1 - b0) / hz / s; o = (o1 - o0) / hz / s
      printf "%.2f %.2f %.2f %.2f\n", s, m, o, m - o
    }')
}

# others_now: sets others_busy to how many CPUs the processes outside this benchmark keep busy right now, sampled over
# BENCH_QUIET_SAMPLE_S (3) seconds the same way as the after-the-run window (machine busy time minus this benchmark's).
others_now() {
  local b0 o0 t0 b1 o1 t1
  quiet_sample_s=${BENCH_QUIET_SAMPLE_S:-3}
  b0=$(machine_busy_jiffies); o0=$(own_jiffies); t0=$(cut -d' ' -f1 /proc/uptime)
  sleep "$quiet_sample_s"
  b1=$(machine_busy_jiffies); o1=$(own_jiffies); t1=$(cut -d' ' -f1 /proc/uptime)
  others_busy=$(awk -v b0="$b0" -v b1="$b1" -v o0="$o0" -v o1="$o1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { s = t1 - t0; if (s < 0.01) s = 0.01; printf "%.2f\n", ((b1 - b0) - (o1 - o0)) / hz / s }')
}

# load_guard WHEN LOADAVG: a figure taken on a busy machine says little (bench/README.md). Unless BENCH_SMOKE=1, exits 3
# and says why
#   - WHEN "before ...": when the 1-minute load average (the first word of LOADAVG, as /proc/loadavg gives it) is above
#     nproc/2 AND a sample of the other processes' CPU now (others_now) is above nproc/2 too — the average lags by
#     minutes, so after an earlier CPU-bound benchmark it is high on a machine that is already idle;
#   - WHEN "after ...": when the other processes kept more than nproc/2 CPUs busy on average since the window started
#     (cpu_window_read; LOADAVG is only quoted: the benchmark's own CPU is in it).
# Prints the after figures either way (stderr).
load_guard() {
  [ "${BENCH_SMOKE:-0}" != 1 ] || return 0
  local load=${2%% *} n half
  n=$(nproc)
  half=$(awk -v n="$n" 'BEGIN { print n / 2 }')
  case $1 in
    after*)
      cpu_window_read
      echo "load guard: during the run ($cpu_seconds s) the machine kept $cpu_machine CPUs busy on average, this benchmark" \
        "$cpu_own, the other processes $cpu_others (limit nproc/2 = $half); 1-minute load average $1: $load" >&2
      if awk -v l="$cpu_others" -v n="$n" 'BEGIN { exit !(l > n / 2) }'; then
        echo "refusing to publish: other processes kept $cpu_others CPUs busy on average during the run" \
          "(machine $cpu_machine − this benchmark $cpu_own, over $cpu_seconds s), above nproc/2 = $half" \
          "(wait for a quiet machine; 'uptime' and 'ps -eo pcpu,comm --sort=-pcpu | head' say what runs)" >&2
        exit 3
      fi
      ;;
    *)
      if awk -v l="$load" -v n="$n" 'BEGIN { exit !(l > n / 2) }'; then
        # The load average lags by minutes: right after a CPU-bound benchmark (exec-concurrency saturates both CPUs)
        # it stays above nproc/2 on a machine that is already idle. What counts is whether something competes now.
        if [ "$1" = "before the run" ] && [ "${quiet_sampled:-0}" = 1 ]; then
          return 0
        fi
        others_now
        echo "load guard: the 1-minute load average is $load $1; sampled over $quiet_sample_s s, the other processes" \
          "keep $others_busy CPUs busy (limit nproc/2 = $half)" >&2
        if awk -v l="$others_busy" -v n="$n" 'BEGIN { exit !(l > n / 2) }'; then
          echo "refusing to publish: the 1-minute load average was $load $1 and other processes keep $others_busy CPUs" \
            "busy now, above nproc/2 = $half (wait for a quiet machine; 'uptime' and 'ps -eo pcpu,comm --sort=-pcpu | head'" \
            "say what runs)" >&2
          exit 3
        fi
        [ "$1" != "before the run" ] || quiet_sampled=1
      fi
      ;;
  esac
}
load_guard "before the run" "$(cut -d' ' -f1-3 /proc/loadavg)"

step_pid=""
agent_pid=""

# begin_work NAME LOG...: makes the run's temporary directory ($work, /tmp/NAME.XXXXXX) and installs the traps. LOG...:
# files in $work whose last lines cleanup shows after a failure. Call it once the variables stop_children reads are set.
begin_work() {
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  shift
  cleanup_logs=("$@")
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# The EXIT trap: stop_children (defined by the script) stops what the script started, the running step first; when it
# returns non-zero (it found something left behind) the run fails. A further INT or TERM does not cut it short (it is
# bounded: at most 5 s per process it stops): `timeout -s INT` signals the script and then its whole process group, and
# when the second one came after cleanup had started, the default action killed the script and left the agent running.
cleanup() {
  local rc=$? f
  trap - EXIT
  trap : INT TERM
  stop_children || { [ $rc -ne 0 ] || rc=1; }
  if [ $rc -ne 0 ]; then
    for f in "${cleanup_logs[@]}"; do
      if [ -s "$work/$f" ]; then echo "--- $f (last lines)" >&2; tail -20 "$work/$f" >&2; fi
    done
  fi
  rm -rf "$work"
  exit $rc
}

# Runs a long step as a background child and waits for it, so a TERM/INT to this script is handled at once (bash
# defers traps while a foreground child runs) and cleanup can stop the step too.
step() {
  "$@" &
  step_pid=$!
  local rc=0
  wait "$step_pid" || rc=$?
  step_pid=""
  return $rc
}

# Stops a child we started: SIGTERM, up to 5 s (the agent stops its own children first), then SIGKILL; reaps it.
stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Waits (bounded) until `$2` succeeds, failing early if pid $1 died. $3 = seconds.
wait_until() {
  local pid=$1 check=$2 seconds=$3
  for _ in $(seq $((seconds * 20))); do
    if eval "$check"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# Every process whose command line mentions our temp dir (what the script started there): pids only.
leftovers() {
  local p
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$work/"; then echo "${p#/proc/}"; fi
  done
}

# kill_leftovers WHEN: kills the leftovers, saying they were still running WHEN (e.g. "after stopping everything");
# returns 1 when there were any (the run fails).
kill_leftovers() {
  local left p
  left=$(leftovers | tr '\n' ' ')
  [ -n "${left// /}" ] || return 0
  echo "cleanup: processes still running $1: $left— killing them" >&2
  for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
  return 1
}

# apt_install PACKAGE WHY: installs a Debian package with apt-get when running as root; otherwise prints WHY, exits 1.
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "$2" >&2
    exit 1
  fi
  echo "== installing $1"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}

# build_tool CSPROJ OUT ARTIFACTS: builds a measurer (Release) into OUT, its intermediate files under ARTIFACTS; the log
# is $work/build.log, shown when the build fails. Restarts the load guard's CPU window: the build is not the run.
build_tool() {
  step timeout 600 dotnet build "$1" -c Release -o "$2" \
    --artifacts-path "$3" -nologo -clp:NoSummary -v:q >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; exit 1; }
  cpu_window_start
}

# start_agent DIR LOG_LEVEL TOKEN [NAME=VALUE...]: starts the agent (with NAME=VALUE added to its environment) on
# 127.0.0.1, a free port, from its own empty root DIR/root, state in DIR/state — the agent's host watches its working
# directory recursively for config changes, so started in a busy tree (this repository while something builds) it
# would do unrelated work during the run. Waits for its ready line (30 s); sets agent_pid and url. Output: $work/agent.out,
# $work/agent.err.
start_agent() {
  local dir=$1 level=$2 token=$3
  shift 3
  local launch=("$SANDBOXD_PATH")
  [ $# -eq 0 ] || launch=(env "$@" "$SANDBOXD_PATH")
  mkdir -p "$dir/root" "$dir/state"
  (cd "$dir/root" && exec "${launch[@]}" start --port 0 --host 127.0.0.1 --access-token "$token" --root "$dir/root" \
    --state-dir "$dir/state" --log-level "$level" >"$work/agent.out" 2>"$work/agent.err" </dev/null) &
  agent_pid=$!
  # shellcheck disable=SC2016 # expanded by wait_until (eval)
  wait_until "$agent_pid" 'grep -q "^sandboxd ready " "$work/agent.out"' 30 || { echo "agent did not become ready" >&2; exit 1; }
  url=$(awk '/^sandboxd ready /{print $3; exit}' "$work/agent.out")
}

stop_agent() {
  stop_pid "$agent_pid"
  agent_pid=""
}

# rss_kb PID: VmRSS of a process in kB, or ? when it is gone.
rss_kb() {
  awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo "?"
}

loadavg() {
  cut -d' ' -f1-3 /proc/loadavg
}

process_count() {
  # shellcheck disable=SC2012 # counting /proc entries, names are pids
  ls -d /proc/[0-9]* 2>/dev/null | wc -l
}

# free_ports PYTHON N: N free TCP ports on 127.0.0.1 (bound together, then released), on one line.
free_ports() {
  "$1" -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$2"
}

# machine_meta [--processes N] --load-before L [--load-after L] --dirty "PATH...": refuses (load_guard) when the load
# before is above nproc/2 or, with --load-after, when the other processes kept more than nproc/2 CPUs busy during the
# run (without it, the load average now stands in, as before a run), then sets meta to the --meta words every report's
# machine line starts with, in this order: date, nproc, processes_before (when given), kernel, cpu, loadavg_before,
# loadavg_after (when given), with --load-after run_seconds, cpu_machine_during_run, cpu_benchmark_during_run,
# cpu_others_during_run (average CPUs busy: the whole machine, this benchmark, the rest = what the guard checks),
# agent_commit (HEAD, +dirty when git sees a change under the PATHs).
machine_meta() {
  local processes="" before="" after="" dirty=agent commit
  while [ $# -gt 0 ]; do
    case $1 in
      --processes) processes=$2 ;;
      --load-before) before=$2 ;;
      --load-after) after=$2 ;;
      --dirty) dirty=$2 ;;
      *) echo "machine_meta: unknown option $1" >&2; return 2 ;;
    esac
    shift 2
  done
  load_guard "before the run" "$before"
  if [ -n "$after" ]; then
    load_guard "after the run" "$after"
    [ "${BENCH_SMOKE:-0}" != 1 ] || cpu_window_read # the guard is skipped, the figures are still recorded
  else
    load_guard "before the run (now)" "$(loadavg)"
  fi
  local -a paths
  read -r -a paths <<<"$dirty"
  commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [ -n "$(git -C "$repo" status --porcelain -- "${paths[@]}" 2>/dev/null)" ]; then commit="$commit+dirty"; fi
  meta=(--meta "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" --meta "nproc=$(nproc)")
  [ -z "$processes" ] || meta+=(--meta "processes_before=$processes")
  meta+=(--meta "kernel=$(uname -sr)" --meta "cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)")
  meta+=(--meta "loadavg_before=$before")
  if [ -n "$after" ]; then
    meta+=(--meta "loadavg_after=$after" --meta "run_seconds=$cpu_seconds" --meta "cpu_machine_during_run=$cpu_machine")
    meta+=(--meta "cpu_benchmark_during_run=$cpu_own" --meta "cpu_others_during_run=$cpu_others")
  fi
  meta+=(--meta "agent_commit=$commit")
}
