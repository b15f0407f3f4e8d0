#!/usr/bin/env bash
# Lists the methods of agent/, gateway/ and common/ longer than a limit (default 60 lines), longest first:
#   LINES  FILE:LINE  SIGNATURE
# A method is a line with a signature (an access or static/async/override modifier and a '(') followed by a '{' on its
# own line at the same indentation (the house style's braces); its length is the lines from the signature to the
# '}' at that indentation (a signature may run over several deeper-indented lines). Local functions and lambdas count towards the method that holds them.
# Usage: tests/long-methods.sh [LIMIT] [DIR...]
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-60}
shift || true
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(agent gateway common)
find "${dirs[@]}" -name '*.cs' -not -path '*/obj/*' -not -path '*/bin/*' -print0 | sort -z | xargs -0 awk -v limit="$limit" '
  FNR == 1 { open = 0 }
  {
    if (open) {
      if ($0 == indent "}") {
        n = FNR - start + 1
        if (n > limit) printf "%5d  %s:%d  %s\n", n, FILENAME, start, sig
        open = 0
      }
      next
    }
    if (pending && $0 ~ /^[ \t]*\{[ \t]*$/) {
      match($0, /^[ \t]*/); ind = substr($0, 1, RLENGTH)
      if (ind == pindent) { open = 1; indent = ind; start = pstart; sig = psig; pending = 0; next }
    }
    # a signature continued on deeper-indented lines (parameters one per line) stays pending
    if (pending && index($0, pindent " ") == 1 && $0 !~ /;[ \t]*$/ && $0 !~ /=>/) next
    pending = 0
    if ($0 ~ /^[ \t]+(public|private|internal|protected|static|async|override|sealed)[^=;]*\(/ && $0 !~ /(class|record|struct|interface|enum) / && $0 !~ /;[ \t]*$/) {
      match($0, /^[ \t]*/); pindent = substr($0, 1, RLENGTH); pstart = FNR; psig = $0; sub(/^[ \t]+/, "", psig)
      if (length(psig) > 110) psig = substr(psig, 1, 107) "..."
      pending = 1
    }
  }
' | sort -rn
