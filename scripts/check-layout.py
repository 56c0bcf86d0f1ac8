#!/usr/bin/env python3
"""check-layout — the house rules of the daemon's sources, checked.

  scripts/check-layout.py [--graph]

Over every C source of the project (the daemon's folders fs vm arch qmp
lib, and bench tests):
  - no source file over 600 lines, no function over 80 lines (a function
    body is a line "{" at column 0 up to the next "}" at column 0, the
    style every file here follows);
Over the daemon's folders:
  - the layers: each folder may include only its own headers and those of
    the layers below it (the LAYERS table), so arch/ and lib/ are leaves
    and nothing below fs/ knows FUSE;
  - no include cycle between modules: a module is a header X.h with its
    X.c and the files X_*.c / X_*.h of the same folder (one concept cut
    into files, as arch.h with arch_x86_64.c, config.h with
    config_schema.c); an edge A -> B when a file of A includes a header of
    B.
--graph prints the module graph (one "A -> B" per line) and exits.
Exit 0 when every rule holds, 1 with one line per violation otherwise.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = ["fs", "vm", "arch", "qmp", "lib"]
SIZED = FOLDERS + ["bench", "tests"]  # the size rules hold here too
MAX_FILE, MAX_FUNC = 600, 80

# folder prefix -> the folder prefixes it may include (itself implied)
LAYERS = {
    "fs/": ["vm/", "arch/", "qmp/", "lib/"],
    "vm/sandbox/": ["vm/qemu/", "vm/model/", "arch/", "qmp/", "lib/"],
    "vm/qemu/": ["vm/model/", "arch/", "qmp/", "lib/"],
    "vm/model/": ["arch/", "qmp/", "lib/"],
    "arch/": ["lib/"],
    "qmp/": ["lib/"],
    "lib/": [],
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def sources(folders=FOLDERS):
    for top in folders:
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), ROOT)


def layer_of(path):
    best = None
    for prefix in LAYERS:
        if path.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return best


def module_of(path):
    """The module of a file: X for X.c, X.h and X_*.c/.h (the longest X with an X.h)."""
    folder, name = os.path.split(os.path.splitext(path)[0])
    parts = name.split("_")
    for k in range(len(parts) - 1, 0, -1):  # the longest X with X.h
        head = "_".join(parts[:k])
        if os.path.exists(os.path.join(ROOT, folder, head + ".h")):
            return os.path.join(folder, head)
    return os.path.join(folder, name)


def check_sizes(path, lines, bad):
    if len(lines) > MAX_FILE:
        bad.append(f"{path}: {len(lines)} lines (at most {MAX_FILE})")
    start = None
    for i, line in enumerate(lines):
        if line.rstrip("\n") == "{":
            start = i
        elif line.rstrip("\n") == "}" and start is not None:
            n = i - start - 1
            if n > MAX_FUNC:
                bad.append(f"{path}:{start}: a function of {n} lines (at most {MAX_FUNC})")
            start = None


def main():
    bad, edges = [], {}
    for path in sources(SIZED):
        if path.split(os.sep)[0] in FOLDERS:
            continue
        with open(os.path.join(ROOT, path), encoding="utf-8") as fh:
            check_sizes(path, fh.readlines(), bad)
    for path in sources():
        with open(os.path.join(ROOT, path), encoding="utf-8") as fh:
            lines = fh.readlines()
        check_sizes(path, lines, bad)
        mod = module_of(path)
        layer = layer_of(path)
        for n, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            inc = m.group(1)
            if not inc.startswith(tuple(f + "/" for f in FOLDERS)):
                continue
            allowed = [layer] + LAYERS[layer]
            if not inc.startswith(tuple(allowed)):
                bad.append(f"{path}:{n}: includes {inc}: {layer} may include only "
                           f"{', '.join(allowed)}")
            target = module_of(inc)
            if target != mod:
                edges.setdefault(mod, set()).add(target)
    if "--graph" in sys.argv:
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f"{a} -> {b}")
        return 0
    # cycles: depth-first search with colours
    colour, stack = {}, []

    def visit(node):
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if colour.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                bad.append("include cycle: " + " -> ".join(cycle))
            elif nxt not in colour:
                visit(nxt)
        stack.pop()
        colour[node] = 2

    for node in sorted(edges):
        if node not in colour:
            visit(node)
    for b in bad:
        print(b)
    print(f"layout: {len(bad)} violation(s) in {len(list(sources(SIZED)))} files")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
