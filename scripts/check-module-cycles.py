#!/usr/bin/env python3
"""No import circles between modules (issue "one room per job"): module import graph per crate: each file's `crate::X` / `super::X` references mapped to the
top-level module X of its crate (items defined in lib.rs count as module `lib`); prints cycles."""
import re, sys, pathlib
root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else '.')
def strip(s):
    s = re.sub(r'//[^\n]*', '', s)
    # drop #[cfg(test)] mod tests { ... } blocks roughly: from the attribute to end of file when inline
    m = re.search(r'#\[cfg\(test\)\]\s*mod tests\s*\{', s)
    return s[:m.start()] if m else s
total = 0
for crate in sorted(p.parent.parent for p in root.glob('*/src/lib.rs')):
    src = crate / 'src'
    mods = {}
    lib = (src / 'lib.rs').read_text()
    top = set(re.findall(r'^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;', lib, re.M))
    lib_items = set(re.findall(r'^\s*pub(?:\([^)]*\))?\s+(?:struct|enum|fn|async fn|trait|type|const|static)\s+(\w+)', lib, re.M))
    graph = {m: set() for m in top | {'lib'}}
    for f in src.rglob('*.rs'):
        rel = f.relative_to(src)
        if rel.parts[0] in ('bin',) or f.name == 'main.rs' or 'tests' in rel.stem.split('/')[-1:] and rel.stem == 'tests':
            continue
        owner = 'lib' if rel.name == 'lib.rs' else rel.parts[0].removesuffix('.rs')
        if owner not in graph:
            continue
        text = strip(f.read_text())
        refs = re.findall(r'crate::(\w+)', text)
        # `use crate::{a, b::c}` groups
        for group in re.findall(r'crate::\{([^}]*)\}', text):
            refs += [g.strip().split('::')[0] for g in group.split(',') if g.strip()]
        for r in refs:
            target = r if r in top else ('lib' if r in lib_items else None)
            if target and target != owner:
                graph[owner].add(target)
    # lib declares modules; that is not an import. Only lib's *uses* of modules count:
    lib_text = strip(lib)
    graph['lib'] = {t for t in top if re.search(r'(?<![\w:])' + t + r'::', lib_text)}
    # find cycles with DFS
    cycles = []
    def dfs(node, path, seen):
        for nxt in graph.get(node, ()):
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in seen:
                seen.add(nxt); dfs(nxt, path + [nxt], seen)
    for start in graph:
        dfs(start, [start], {start})
    uniq = {tuple(sorted(set(c))) for c in cycles}
    total += len(uniq)
    print(f"{crate.name}: {len(graph)} modules, {'no cycle' if not uniq else 'CYCLES: ' + '; '.join(' -> '.join(c) for c in uniq)}")
sys.exit(1 if total else 0)
