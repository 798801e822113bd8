// No import cycles among the modules of ui/src: every relative `import … from`, `export … from`
// and `import(…)` (type-only imports too) is an edge, and the graph must have no cycle. The
// order of the layers (lib < i18n < app < screens < main) is held by scripts/check-layers.py,
// which CI runs; this test gives the same answer about cycles inside `npm test`.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// A path, not `new URL(...)`: the DOM test environment replaces the global URL.
const SRC = join(dirname(fileURLToPath(import.meta.url)), '../../src');

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return modules(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [relative(SRC, path).replace(/\\/g, '/').replace(/\.ts$/, '')] : [];
  });
}

const IMPORT = /(?:import|export)\s[^'";]*?from\s*['"](\.[^'"]+)['"]|import\s*\(\s*['"](\.[^'"]+)['"]\s*\)/g;

/** Module → the modules of ui/src it imports. */
function importGraph(): Map<string, string[]> {
  const names = new Set(modules(SRC));
  const graph = new Map<string, string[]>();
  for (const name of names) {
    const text = readFileSync(join(SRC, `${name}.ts`), 'utf8');
    const deps = new Set<string>();
    for (const m of text.matchAll(IMPORT)) {
      let target = normalize(join(dirname(name), m[1] ?? m[2] ?? '')).replace(/\\/g, '/').replace(/\.(ts|js)$/, '');
      if (!names.has(target) && names.has(`${target}/index`)) target = `${target}/index`;
      if (names.has(target) && target !== name) deps.add(target);
    }
    graph.set(name, [...deps].sort());
  }
  return graph;
}

/** Every cycle found by a depth-first walk, each as the path that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (m: string) => {
    state.set(m, 'open');
    path.push(m);
    for (const d of graph.get(m) ?? []) {
      if (state.get(d) === 'open') found.push([...path.slice(path.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    path.pop();
    state.set(m, 'done');
  };
  for (const m of [...graph.keys()].sort()) if (!state.has(m)) visit(m);
  return found;
}

describe('the modules of ui/src', () => {
  it('import each other without a cycle', () => {
    const graph = importGraph();
    expect(graph.get('lib/backend')).toContain('lib/codes');
    expect(cycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('would report a cycle', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
    ]);
    expect(cycles(graph)).toEqual([['a', 'b', 'c', 'a']]);
  });
});
