#!/usr/bin/env python3
"""Ranks what a native-AOT binary is made of, by assembly and by namespace (sizoscope-style), from ILC's map file.

Usage: bench/size/by-assembly.py OBJ_NATIVE_DIR [TOP]
  OBJ_NATIVE_DIR: obj/<cfg>/<tfm>/<rid>/native of a publish made with -p:IlcGenerateMapFile=true (holds NAME.map.xml
  and NAME.ilc.rsp, whose -r: lines name the assemblies). Symbols are attributed to the assembly whose mangled name is
  their longest prefix; sizes are ILC's node lengths (code, GC info, EH info, type structures, statics, dictionaries),
  before dehydration and stripping, so they rank contributions rather than add up to the file size."""
import collections, glob, os, re, sys

native = sys.argv[1]
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
mapfile = glob.glob(os.path.join(native, "*.map.xml"))[0]
rsp = glob.glob(os.path.join(native, "*.ilc.rsp"))[0]
asms = []
for line in open(rsp):
    line = line.strip()
    if line.startswith("-r:"):
        asms.append(os.path.basename(line[3:])[:-4])
    elif line.endswith(".dll") and not line.startswith("-"):
        asms.append(os.path.basename(line)[:-4])
# ILC mangles "System.Private.CoreLib" as "S_P_CoreLib" and the like (S_P_ = System.Private.).
prefixes = sorted(((a.replace("System.Private.", "S_P_").replace(".", "_") + "_", a) for a in set(asms)),
                  key=lambda p: -len(p[0]))
node = re.compile(r'<(\w+) Name="([^"]*)" Length="(\d+)"')
by_asm = collections.Counter()
by_ns = collections.Counter()
by_kind = collections.Counter()
total = 0
for line in open(mapfile, encoding="utf-8"):
    m = node.search(line)
    if not m:
        continue
    kind, name, length = m.group(1), m.group(2), int(m.group(3))
    total += length
    by_kind[kind] += length
    bare = re.sub(r"^_ZTV\d+|^__\w+?_", "", name) if name.startswith(("_ZTV", "__GCStaticBase_", "__NonGCStaticBase_")) else name
    for p, asm in prefixes:
        if bare.startswith(p):
            by_asm[asm] += length
            rest = bare[len(p):]
            # the namespace: the assembly-named prefix again (most types live in a namespace named like the assembly),
            # then up to two more segments
            parts = rest.split("_")
            by_ns[asm + " :: " + "_".join(parts[:min(4, len(parts) - 1)])] += length
            break
    else:
        by_asm["(runtime, blobs, unattributed)"] += length
def show(title, counter, n):
    print(f"== {title} (top {n}; total of map nodes {total / 1e6:.2f} MB)")
    for k, v in counter.most_common(n):
        print(f"{v / 1e3:10.1f} kB  {k}")
show("by assembly", by_asm, top)
show("by namespace (mangled)", by_ns, top)
show("by node kind", by_kind, 15)
