#!/usr/bin/env python3
"""Holds the layers: fails on an import that runs upward or closes a cycle.

Rust (the dispatch server, the device core, the shared crates): every file is a module; an
edge is any path into another module of the same crate (`use crate::…`, `super::…`, a child's
name, inline `crate::x::y` paths) outside `#[cfg(test)]` code. A facade's `pub use child::X`
re-export is not an edge (it exposes the child, it does not depend on it). Each crate lists its
layers bottom-up; a module may use its own layer and the ones below, never one above.
Cycles are reported at file level, inside a layer too.

TypeScript (ui/src): every file is a module, an edge is an `import … from './…'` (type-only
imports too: they still couple the files); cycles are refused, and the layers are
lib < i18n < app (the shell every screen draws into) < screens < main.

Usage: scripts/check-layers.py [--graph]   (exit 1 on a violation; --graph prints the edges)
"""

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Bottom-up layers per Rust crate: (crate name, src dir, [[module prefixes of layer 0], ...]).
# A module matches the longest prefix listed; one that matches none is refused, so a new
# top-level module has to be placed here on purpose.
RUST_CRATES = [
    ("doorstep-inputs", "crates/inputs/src", [["clock", "random"], ["<root>"]]),
    ("doorstep-protocol", "crates/protocol/src", [["code", "ids"], ["token"], ["barcode"], ["wire"], ["<root>"]]),
    ("doorstep-server", "crates/server/src", [
        ["domain", "sys"],
        ["store"],
        ["config", "render"],
        ["error"],
        ["ops", "notify"],
        ["http::error", "http::extract", "http::state", "http::middleware", "http::openapi", "http::release_upload"],
        ["http::api", "http::pages"],
        ["http::router", "http"],
        ["<root>"],
        ["testing"],
    ]),
    ("doorstep-courier", "crates/courier/src", [
        ["view", "version", "config", "date", "photos"],
        ["error"],
        ["handover", "store", "api", "update"],
        ["shared"],
        ["sync"],
        ["device"],
        ["door"],
        ["<root>"],
    ]),
]

# Edges that cross between siblings of one layer which must not know each other.
FORBIDDEN = {
    "doorstep-server": [("http::pages", "http::api"), ("http::api", "http::pages"), ("domain", "sys"), ("sys", "domain")],
}


def strip_tests(text: str) -> str:
    """The file without its `#[cfg(test)]` items and without comments and strings' contents."""
    text = re.sub(r"//[^\n]*", "", text)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\(crate\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    text = "".join(out)
    # Inside an inline `mod name { … }`, `super::` is this file's own module.
    out, i = [], 0
    for m in re.finditer(r"(?m)^\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        out.append(text[i:m.end()])
        out.append(re.sub(r"\bsuper::", "self::", text[m.end():j]))
        i = j
    out.append(text[i:])
    text = "".join(out)
    # `#[cfg(test)]` on a single item (fn, use, impl): drop that item.
    text = re.sub(r"#\[cfg\(test\)\]\s*use[^;]*;", "", text)
    return re.sub(r'"(\\.|[^"\\])*"', '""', text)


def rust_modules(src: Path):
    """Module path (tuple) → file, for every .rs file of the crate (bin/ excluded)."""
    mods = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src)
        if rel.parts[0] == "bin":
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        mods[tuple(parts)] = f
    return mods


def resolve(mods, path, reexports=None):
    """The longest module prefix of `path` (a tuple), or None. A name a facade re-exports
    from one of its children (`pub use child::Name`) resolves to that child."""
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in mods:
            hit = tuple(path[:n])
            if reexports and n < len(path) and (hit, path[n]) in reexports:
                return reexports[(hit, path[n])]
            return hit
    return None


def facade_reexports(mods):
    """(module, name) → the child module a `pub use` in `module` takes `name` from."""
    out = {}
    for module, f in mods.items():
        if f.name not in ("mod.rs", "lib.rs"):
            continue
        text = strip_tests(f.read_text())
        for m in re.finditer(r"(?m)^\s*pub(?:\(crate\))?\s+use\s+([^;]+);", text):
            for p in expand_use(m.group(1)):
                segs = [x for x in p.split("::") if x]
                if not segs or segs[0] in ("crate", "super", "self"):
                    if segs and segs[0] == "crate":
                        segs = segs[1:]
                    elif segs and segs[0] == "self":
                        segs = list(module) + segs[1:]
                    else:
                        continue
                else:
                    segs = list(module) + segs
                name = segs[-1].split(" as ")[-1]
                child = resolve(mods, tuple(segs[:-1]))
                if child and child != module and name != "*":
                    out[(module, name)] = child
    return out


def expand_use(tree: str):
    """`a::{b, c::{d, e}}` → [a::b, a::c::d, a::c::e] (glob `*` kept as a segment)."""
    tree = re.sub(r"\s+", "", tree)
    m = re.match(r"^(.*?)\{(.*)\}$", tree)
    if not m:
        return [tree]
    prefix, inner = m.group(1), m.group(2)
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    if cur:
        parts.append(cur)
    out = []
    for p in parts:
        for e in expand_use(p):
            out.append(prefix + e if e != "self" else prefix.rstrip(":"))
    return out


def rust_edges(mods, module, text, reexports):
    is_dir_module = mods[module].name in ("mod.rs", "lib.rs", "main.rs")
    children = {m[len(module)] for m in mods if len(m) == len(module) + 1 and m[: len(module)] == module}
    base_for_super = module[:-1] if True else module
    edges = set()

    def add(path_str, reexport=False):
        segs = [s for s in path_str.split("::") if s]
        segs = [s.split(" as ")[0] for s in segs]
        if not segs:
            return
        if segs[0] == "crate":
            target = tuple(segs[1:])
        elif segs[0] == "super":
            base = list(module[:-1]) if is_dir_module or True else list(module)
            # In a file module `a/b.rs` (module a::b), super is `a`; in `a/b/mod.rs` too.
            base = list(module[:-1])
            rest = segs[1:]
            while rest and rest[0] == "super":
                base = base[:-1]
                rest = rest[1:]
            target = tuple(base + rest)
        elif segs[0] == "self":
            target = module + tuple(segs[1:])
        elif segs[0] in children and is_dir_module:
            target = module + tuple(segs)
        else:
            return
        target = [s for s in target if s != "*"]
        hit = resolve(mods, tuple(target), reexports)
        if hit is None or hit == module:
            return
        # A facade re-exporting its own child does not depend on it.
        if reexport and hit[: len(module)] == module and len(hit) > len(module):
            return
        edges.add(hit)

    for m in re.finditer(r"(?m)^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", text):
        reexport = bool(m.group(1)) and "pub(super)" not in m.group(1)
        for p in expand_use(m.group(2)):
            add(p, reexport=reexport)
    body = re.sub(r"(?m)^\s*(pub(\([^)]*\))?\s+)?use\s+[^;]+;", "", text)
    for m in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", body):
        add(m.group(1))
    if is_dir_module:
        for m in re.finditer(r"(?<![:\w])(\w+)::\w+", body):
            if m.group(1) in children:
                add(m.group(1) + "::x")
    return edges


def layer_of(layers, module):
    name = "::".join(module) if module else "<root>"
    best, rank = None, None
    for r, prefixes in enumerate(layers):
        for p in prefixes:
            if name == p or name.startswith(p + "::"):
                if best is None or len(p) > len(best):
                    best, rank = p, r
    return rank, best


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def check_rust(show):
    problems = []
    for name, src, layers in RUST_CRATES:
        src = ROOT / src
        if not src.exists():
            continue
        mods = rust_modules(src)
        reexports = facade_reexports(mods)
        graph = {}
        for module, f in mods.items():
            graph[module] = rust_edges(mods, module, strip_tests(f.read_text()), reexports)
        fmt = lambda m: "::".join(m) or "<root>"
        if show:
            print(f"# {name}")
            for m in sorted(graph):
                print(f"  {fmt(m)} -> {', '.join(fmt(t) for t in sorted(graph[m])) or '-'}")
        for comp in cycles(graph):
            problems.append(f"{name}: import cycle: {' <-> '.join(fmt(m) for m in comp)}")
        if layers:
            for m, targets in graph.items():
                rm, pm = layer_of(layers, m)
                if rm is None:
                    problems.append(f"{name}: {fmt(m)} is in no layer: add it to scripts/check-layers.py")
                    continue
                for t in targets:
                    rt, pt = layer_of(layers, t)
                    if rt is not None and rt > rm:
                        problems.append(f"{name}: {fmt(m)} (layer {pm}) imports {fmt(t)} (layer {pt}), which is above it")
        for a, b in FORBIDDEN.get(name, []):
            for m, targets in graph.items():
                if fmt(m) == a or fmt(m).startswith(a + "::"):
                    for t in targets:
                        if fmt(t) == b or fmt(t).startswith(b + "::"):
                            problems.append(f"{name}: {fmt(m)} imports {fmt(t)}: {a} and {b} must not know each other")
        print(f"{name}: {len(mods)} modules, {sum(len(t) for t in graph.values())} imports between them")
    return problems


UI_LAYERS = [["lib"], ["i18n"], ["app"], ["screens"], ["main"]]


def check_ui(show):
    src = ROOT / "ui" / "src"
    if not src.exists():
        return []
    files = {f.relative_to(src).with_suffix("").as_posix(): f for f in src.rglob("*.ts") if not f.name.endswith(".d.ts")}
    graph = {}
    for name, f in files.items():
        text = f.read_text()
        deps = set()
        for m in re.finditer(r"""(?:import|export)\s[^'";]*?from\s*['"](\.[^'"]+)['"]|import\s*\(\s*['"](\.[^'"]+)['"]\s*\)""", text):
            spec = m.group(1) or m.group(2)
            target = os.path.normpath(os.path.join(os.path.dirname(name), spec)).replace(os.sep, "/")
            target = re.sub(r"\.(ts|js)$", "", target)
            if target not in files and target + "/index" in files:
                target += "/index"
            if target in files and target != name:
                deps.add(target)
        graph[name] = deps
    if show:
        print("# ui/src")
        for m in sorted(graph):
            print(f"  {m} -> {', '.join(sorted(graph[m])) or '-'}")
    problems = [f"ui: import cycle: {' <-> '.join(c)}" for c in cycles(graph)]

    def rank(n):
        top = n.split("/")[0]
        for r, names in enumerate(UI_LAYERS):
            if top in names:
                return r
        return None

    for m, deps in graph.items():
        if rank(m) is None:
            problems.append(f"ui: {m} is in no layer: add it to scripts/check-layers.py")
            continue
        for d in deps:
            if rank(d) is not None and rank(d) > rank(m):
                problems.append(f"ui: {m} imports {d}, which is above it")
    print(f"ui/src: {len(files)} modules, {sum(len(d) for d in graph.values())} imports between them")
    return problems


def main():
    show = "--graph" in sys.argv
    problems = check_rust(show) + check_ui(show)
    if problems:
        print(f"\n{len(problems)} layering problem(s):")
        for p in problems:
            print("  " + p)
        return 1
    print("layers: every import points down, no cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
