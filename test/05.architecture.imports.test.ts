// The layer rules of docs/ARCHITECTURE.md, checked on the source: each room imports only the rooms below
// it, the server reaches infer only through its public modules (never the worker, pool or batcher), the
// shipped code never statically imports the dev-only model generator, and no import cycle exists in src/
// or models/. Static imports (type-only ones included) are read from the .ts files themselves.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { packageRoot } from '../src/native.js';

const ROOT = packageRoot();

/** room -> the rooms it may import (besides itself). Top-level files of src/ are rooms of their own. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  'native.ts': [],
  'platform.ts': [],
  'version.ts': ['native.ts'],
  wire: [],
  tokenize: ['native.ts'],
  index: ['native.ts', 'platform.ts'],
  models: ['native.ts', 'version.ts', 'platform.ts'],
  infer: ['models', 'tokenize', 'native.ts'],
  pipeline: ['infer', 'index', 'tokenize', 'models', 'native.ts', 'platform.ts'],
  llm: ['pipeline'],
  retrievers: ['pipeline', 'infer', 'index'],
  server: ['llm', 'retrievers', 'pipeline', 'infer', 'index', 'tokenize', 'wire', 'models', 'native.ts', 'version.ts'],
  eval: ['pipeline', 'infer', 'index', 'tokenize', 'models', 'native.ts'],
  cli: ['server', 'llm', 'retrievers', 'eval', 'pipeline', 'infer', 'index', 'tokenize', 'models', 'wire', 'native.ts', 'version.ts', 'platform.ts'],
  'crossgate.ts': ['server', 'llm', 'retrievers', 'eval', 'pipeline', 'infer', 'index', 'tokenize', 'models', 'wire', 'native.ts', 'version.ts', 'platform.ts'],
};

/** infer's modules the server may use: the encoders, their options, their errors and their timing types. */
const INFER_PUBLIC = new Set(['bi-encoder.ts', 'cross-encoder.ts', 'errors.ts', 'options.ts', 'scheduler.ts', 'index.ts']);

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== 'generated' && e.name !== 'node_modules') out.push(...tsFiles(p)); }
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Static relative imports of a file, as absolute .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  const re = /^\s*(?:import|export)\s[^;]*?\sfrom\s+'(\.{1,2}\/[^']+)'/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push(resolve(dirname(file), m[1]).replace(/\.js$/, '.ts'));
  }
  return out;
}

function roomOf(file: string): string | null {
  const rel = relative(join(ROOT, 'src'), file).split('/');
  if (rel[0] === '..') return null;
  return rel.length === 1 ? rel[0] : rel[0];
}

/** Strongly connected components with more than one file (or a self-import): the cycles. */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), onStack = new Set<string>(), stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter); low.set(v, counter); counter++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.map((f) => relative(ROOT, f)).sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('architecture: the import rules of docs/ARCHITECTURE.md', () => {
  const files = [...tsFiles(join(ROOT, 'src')), ...tsFiles(join(ROOT, 'models'))];
  const graph = new Map(files.map((f) => [f, importsOf(f)]));

  it('finds the sources (the checks below are not vacuous)', () => {
    assert.ok(files.length > 60, `${files.length} files`);
    assert.ok([...graph.values()].flat().length > 150);
  });

  it('each room of src/ imports only the rooms below it', () => {
    const bad: string[] = [];
    for (const [file, deps] of graph) {
      const from = roomOf(file);
      if (from === null) continue;
      const allowed = MAY_IMPORT[from];
      assert.ok(allowed, `src/${from} has a row in MAY_IMPORT (add the new room to the table and to docs/ARCHITECTURE.md)`);
      for (const d of deps) {
        const to = roomOf(d);
        if (to === null) {
          bad.push(`${relative(ROOT, file)} imports ${relative(ROOT, d)}: shipped code never imports the top-level models/ generator statically (load it lazily)`);
        } else if (to !== from && !allowed.includes(to)) {
          bad.push(`${relative(ROOT, file)} (${from}) imports ${relative(ROOT, d)} (${to}); ${from} may import ${allowed.join(', ') || 'nothing'}`);
        }
      }
    }
    assert.deepEqual(bad, []);
  });

  it('the server uses infer only through its public modules, never the worker, pool or batcher', () => {
    const bad: string[] = [];
    for (const [file, deps] of graph) {
      if (roomOf(file) !== 'server') continue;
      for (const d of deps) {
        if (roomOf(d) === 'infer' && !INFER_PUBLIC.has(relative(join(ROOT, 'src', 'infer'), d))) bad.push(`${relative(ROOT, file)} imports ${relative(ROOT, d)}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('no import cycle in src/ or models/', () => {
    assert.deepEqual(cycles(graph), []);
  });

  it('the cycle check catches a cycle', () => {
    const g = new Map([['/a.ts', ['/b.ts']], ['/b.ts', ['/c.ts']], ['/c.ts', ['/a.ts']], ['/d.ts', ['/a.ts']]]);
    assert.equal(cycles(g).length, 1);
    assert.equal(cycles(g)[0].length, 3);
  });
});
