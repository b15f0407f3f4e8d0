#!/usr/bin/env bash
# Overlay benchmark: a deterministic template of 30,000 small files in node_modules plus ~100 MB elsewhere.
# Reports, in one run: smart time-to-answer and time-to-complete, copy time-to-complete, `cp -a` and `cp -al` of the
# same template, and the bare floor of what smart does before answering (symlink node_modules + copy the small files).
# OVERLAY_ROUNDS=N repeats every measure N times, interleaved, and reports medians.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$bench/lib.sh"
files=${OVERLAY_FILES:-30000}
blobs=${OVERLAY_BLOBS:-100}
load_before=$(loadavg)
work=$(mktemp -d /tmp/sandboxd-bench-overlay.XXXXXX)
agent_pid=""
cleanup() { [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM
now_ms() { date +%s%3N; }
tpl="$work/template"
mkdir -p "$tpl/src" "$tpl/assets"
/usr/bin/python3 - "$tpl" "$files" "$blobs" <<'PY'
import os, sys
root, files, blobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(files):
    d = os.path.join(root, "node_modules", f"pkg{i // 100:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i % 100:02d}.js"), "w") as f:
        f.write(f"module.exports = {i};\n" * 4)
for i in range(200):
    with open(os.path.join(root, "src", f"m{i:03d}.js"), "w") as f:
        f.write(f"export const v{i} = {i};\n" * 20)
block = bytes(range(256)) * 4096  # 1 MiB, deterministic
for i in range(blobs):
    with open(os.path.join(root, "assets", f"blob{i:03d}.bin"), "wb") as f:
        f.write(block)
PY
sync
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/root" "$work/state"
"$SANDBOXD_PATH" start --port "$port" --access-token B --root "$work/root" --state-dir "$work/state" > "$work/agent.out" 2> "$work/agent.err" &
agent_pid=$!
for _ in $(seq 100); do grep -q "sandboxd ready" "$work/agent.out" && break; sleep 0.1; done
url="http://127.0.0.1:$port"
overlay() { # overlay TARGET STRATEGY → prints "answer_ms complete_ms"
  # Times come from curl itself (time_total) and the agent's own completed_at, so no tool start-up is counted.
  local answer id status body
  answer=$(curl -fsS -o "$work/ov.json" -w '%{time_total}' -H 'Authorization: Bearer B' -H 'Content-Type: application/json' \
    -d "{\"source\":\"$tpl\",\"target\":\"$1\",\"strategy\":\"$2\"}" "$url/filesystem/overlays")
  id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$work/ov.json")
  for _ in $(seq 6000); do
    body=$(curl -fsS -H 'Authorization: Bearer B' "$url/filesystem/overlays/$id")
    status=$(printf '%s' "$body" | sed -n 's/.*"copy_status":"\([^"]*\)".*/\1/p')
    [ "$status" = complete ] && break
    [ "$status" = failed ] && { echo "overlay failed" >&2; exit 1; }
    sleep 0.01
  done
  /usr/bin/python3 - "$body" "$answer" <<'PY'
import json, sys, datetime
o = json.loads(sys.argv[1]); answer_ms = float(sys.argv[2]) * 1000
parse = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")[:26] + "+00:00" if "." in s else s.replace("Z", "+00:00"))
created, completed = parse(o["created_at"]), parse(o["completed_at"])
print(f"{answer_ms:.0f} {(completed - created).total_seconds() * 1000:.0f}")
PY
}
rounds=${OVERLAY_ROUNDS:-1}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
destroy() { curl -fsS -o /dev/null -X DELETE -H 'Authorization: Bearer B' "$url/filesystem/overlays/$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$work/ov.json")"; }
sa=(); sc=(); ca=(); cc=(); cpa=(); cpal=(); fl=()
# Each round: smart, copy, cp -a, cp -al, floor, one after the other, each from clean page-cache writeback (sync
# before, untimed) and none followed by a timed sync (the overlay's completed_at does not wait for writeback either,
# so cp -a must not pay for flushing the overlay's pages). Rounds alternate so that load drifts hit every row alike.
for r in $(seq "$rounds"); do
  sync; read -r a c < <(overlay "smart-$r" smart); sa+=("$a"); sc+=("$c"); destroy
  sync; read -r a c < <(overlay "copy-$r" copy); ca+=("$a"); cc+=("$c"); destroy
  sync; t0=$(now_ms); cp -a "$tpl" "$work/cp-a"; cpa+=($(($(now_ms) - t0))); rm -rf "$work/cp-a"
  sync; t0=$(now_ms); cp -al "$tpl" "$work/cp-al"; cpal+=($(($(now_ms) - t0))); rm -rf "$work/cp-al"
  sync; t0=$(now_ms); mkdir -p "$work/floor"; ln -s "$tpl/node_modules" "$work/floor/node_modules"; cp -a "$tpl/src" "$work/floor/"; mkdir -p "$work/floor/assets"; fl+=($(($(now_ms) - t0))); rm -rf "$work/floor"
done
smart_answer=$(median "${sa[@]}"); smart_complete=$(median "${sc[@]}"); copy_answer=$(median "${ca[@]}"); copy_complete=$(median "${cc[@]}")
cp_a=$(median "${cpa[@]}"); cp_al=$(median "${cpal[@]}"); floor=$(median "${fl[@]}")
echo "rounds: $rounds; copy complete per round: ${cc[*]} ms; cp -a per round: ${cpa[*]} ms"
machine_meta --load-before "$load_before" --load-after "$(loadavg)" --dirty agent
# shellcheck disable=SC2154 # meta: set by machine_meta (lib.sh)
echo "machine: ${meta[*]//--meta /}"
printf '%-52s %10s\n' "measure" "ms"
printf '%-52s %10s\n' "smart: time to answer" "$smart_answer"
printf '%-52s %10s\n' "smart: time to complete (background copy)" "$smart_complete"
printf '%-52s %10s\n' "copy: time to answer" "$copy_answer"
printf '%-52s %10s\n' "copy: time to complete" "$copy_complete"
printf '%-52s %10s\n' "cp -a (same template)" "$cp_a"
printf '%-52s %10s\n' "cp -al (same template)" "$cp_al"
printf '%-52s %10s\n' "floor: symlink node_modules + copy small files" "$floor"
/usr/bin/python3 - "$smart_answer" "$floor" "$copy_complete" "$cp_a" <<'PY'
import sys
sa, fl, cc, ca = map(float, sys.argv[1:])
print(f"smart answer / floor = {sa / max(fl, 1):.2f}x (target <= 2x); copy complete / cp -a = {cc / max(ca, 1):.2f}x (target <= 1.0x)")
PY
