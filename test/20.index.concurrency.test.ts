// VectorIndex under concurrency: many async searches in flight while add() and remove() run on the
// main thread; every result must equal the answer of some consistent state of the index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VectorIndex } from '../src/index/index.js';

function rows(n: number, dim: number, seed: number): Float32Array[] {
  let s = seed;
  const r = () => ((s = (s * 48271) % 2147483647) / 2147483647) - 0.5;
  return Array.from({ length: n }, () => Float32Array.from({ length: dim }, r));
}

test('async searches running while add() runs each see a whole state', async () => {
  const dim = 64, base = 20000, batches = 12, per = 500, k = 10;
  const vecs = rows(base + batches * per, dim, 11);
  const ids = vecs.map((_, i) => i);
  const query = rows(1, dim, 12)[0];
  // Each batch brings one row ever closer to the query, so every add changes the top-k.
  for (let j = 0; j < batches; j++) vecs[base + j * per + 7] = query.map((x) => x * (2 + j));
  // The answer after each prefix of adds, from separate indexes; each is an allowed outcome.
  const allowed = new Set<string>();
  for (let j = 0; j <= batches; j++) {
    const ref = new VectorIndex({ dim });
    ref.add(ids.slice(0, base + j * per), vecs.slice(0, base + j * per));
    allowed.add(JSON.stringify(ref.searchSync(query, k)));
  }
  assert.ok(allowed.size > 2, 'the adds change the answer, so the test can tell states apart');

  const index = new VectorIndex({ dim });
  index.add(ids.slice(0, base), vecs.slice(0, base));
  const inFlight: Promise<unknown>[] = [];
  const seen = new Set<string>();
  for (let j = 0; j < batches; j++) {
    for (let i = 0; i < 20; i++) inFlight.push(index.search(query, k).then((h) => seen.add(JSON.stringify(h))));
    inFlight.push(index.searchBatch([query, query], k).then((b) => {
      assert.deepEqual(b[0], b[1], 'one batch sees one state');
      seen.add(JSON.stringify(b[0]));
    }));
    index.add(ids.slice(base + j * per, base + (j + 1) * per), vecs.slice(base + j * per, base + (j + 1) * per));
  }
  await Promise.all(inFlight);
  for (const s of seen) assert.ok(allowed.has(s), `a concurrent search returned a result no state produces: ${s}`);
  assert.equal(index.count, base + batches * per);
  assert.deepEqual(await index.search(query, k), JSON.parse([...allowed].at(-1)!));
});

test('searches in flight while remove() and save() run each see a whole state', async () => {
  const dim = 16;
  const vecs = rows(5000, dim, 13);
  const ids = vecs.map((_, i) => i);
  const odd = ids.filter((i) => i % 2 === 1);
  const index = new VectorIndex({ dim });
  index.add(ids, vecs);
  const after = new VectorIndex({ dim });
  after.add(odd, odd.map((i) => vecs[i]));
  const queries = vecs.slice(0, 50);
  const allowed = queries.map((q) => [JSON.stringify(index.searchSync(q, 5)), JSON.stringify(after.searchSync(q, 5))]);
  const pending = queries.map((q) => index.search(q, 5));
  const dir = mkdtempSync(join(tmpdir(), 'cg-index-'));
  const saving = index.save(join(dir, 'x.cgvi'));
  assert.equal(index.remove(ids.filter((i) => i % 2 === 0)), 2500);
  const results = await Promise.all(pending);
  await saving;
  rmSync(dir, { recursive: true, force: true });
  for (const [i, hits] of results.entries()) {
    assert.ok(allowed[i].includes(JSON.stringify(hits)), `query ${i} mixed two states: ${JSON.stringify(hits)}`);
  }
});
