// VectorIndex search: exact top-k against a brute-force JS reference for every storage, batch equals
// single, ties to the lower id, k above count, remove, and forced SIMD levels agreeing with each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { VectorIndex, type SearchHit, type VectorStorage } from '../src/index/index.js';
import { Rng } from '../models/random.js';

function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

function unitVectors(n: number, dim: number, seed: number): Float32Array[] {
  const r = rng(seed);
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const v = new Float32Array(dim);
    let norm = 0;
    for (let c = 0; c < dim; c++) {
      // Box-Muller: Gaussian components make the direction uniform on the sphere.
      v[c] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
      norm += v[c] * v[c];
    }
    for (let c = 0; c < dim; c++) v[c] /= Math.sqrt(norm);
    out.push(v);
  }
  return out;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function bruteForce(ids: number[], vecs: Float32Array[], q: Float32Array, k: number): SearchHit[] {
  return ids
    .map((id, i) => ({ id, score: dot(q, vecs[i]) }))
    .sort((a, b) => b.score - a.score || a.id - b.id)
    .slice(0, k);
}

/** Ids must agree with the reference, except where two reference scores are within `tie` of each other. */
function assertSameTopK(got: SearchHit[], want: SearchHit[], scoreTol: number, tie: number): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i].score - want[i].score) <= scoreTol, `rank ${i}: score ${got[i].score} vs ${want[i].score}`);
    if (i > 0) assert.ok(got[i - 1].score >= got[i].score, 'hits are best first');
    if (got[i].id !== want[i].id) {
      const near = [want[i - 1], want[i + 1]].some((w) => w && Math.abs(w.score - want[i].score) <= tie);
      assert.ok(near, `rank ${i}: id ${got[i].id} vs ${want[i].id} with no near-tie to explain it`);
    }
  }
}

test('f32 search equals brute force on random data, for several dims', () => {
  for (const dim of [1, 5, 16, 31, 384]) {
    const n = 1200;
    const vecs = unitVectors(n, dim, dim);
    const ids = vecs.map((_, i) => 10 * i + 7);
    const index = new VectorIndex({ dim });
    index.add(ids, vecs);
    assert.equal(index.count, n);
    for (const q of unitVectors(15, dim, 1000 + dim)) {
      assertSameTopK(index.searchSync(q, 10), bruteForce(ids, vecs, q, 10), 1e-5, 1e-6);
    }
  }
});

test('f16 and int8 storage stay close to the exact ranking', async () => {
  const dim = 64, n = 3000;
  const vecs = unitVectors(n, dim, 42);
  const ids = vecs.map((_, i) => i);
  const queries = unitVectors(30, dim, 43);
  for (const [storage, scoreTol, minRecall] of [['f16', 2e-3, 0.97], ['int8', 2e-2, 0.85]] as [VectorStorage, number, number][]) {
    const index = new VectorIndex({ dim, storage });
    index.add(ids, vecs);
    assert.equal(index.storage, storage);
    let found = 0;
    for (const q of queries) {
      const got = await index.search(q, 10);
      const want = bruteForce(ids, vecs, q, 10);
      const truth = new Set(want.map((h) => h.id));
      for (const h of got) {
        found += truth.has(h.id) ? 1 : 0;
        assert.ok(Math.abs(h.score - dot(q, vecs[h.id])) <= scoreTol, `${storage} score of id ${h.id} is off by more than ${scoreTol}`);
      }
    }
    assert.ok(found / (queries.length * 10) >= minRecall, `${storage} recall@10 ${found / 300} < ${minRecall}`);
  }
});

test('searchBatch returns exactly what search returns for each query', async () => {
  for (const storage of ['f32', 'f16', 'int8'] as VectorStorage[]) {
    const dim = 48;
    const vecs = unitVectors(2500, dim, 5);
    const index = new VectorIndex({ dim, storage });
    index.add(vecs.map((_, i) => i * 3), vecs);
    const queries = unitVectors(67, dim, 6); // more than one 64-query block
    const batch = await index.searchBatch(queries, 9);
    assert.equal(batch.length, queries.length);
    for (let i = 0; i < queries.length; i++) assert.deepEqual(batch[i], await index.search(queries[i], 9));
    // number[][] queries are accepted too.
    assert.deepEqual(await index.searchBatch([Array.from(queries[0])], 9), [batch[0]]);
  }
  assert.deepEqual(await new VectorIndex({ dim: 3 }).searchBatch([], 5), []);
});

test('equal scores go to the lower id, whatever the insertion order', () => {
  const index = new VectorIndex({ dim: 2 });
  index.add([50, 40, 30, 20, 10], [[1, 0], [1, 0], [1, 0], [1, 0], [1, 0]]);
  index.remove([30]);
  assert.deepEqual(index.searchSync([2, 0], 3).map((h) => h.id), [10, 20, 40]);
  assert.deepEqual(index.searchSync([2, 0], 3).map((h) => h.score), [2, 2, 2]);
});

test('k above the count returns every stored vector; an empty index returns none', async () => {
  const index = new VectorIndex({ dim: 3 });
  assert.deepEqual(await index.search([1, 2, 3], 5), []);
  index.add([1, 2], [[1, 0, 0], [0, 1, 0]]);
  const hits = await index.search(new Float32Array([0.5, 1, 0]), 1000);
  assert.deepEqual(hits, [{ id: 2, score: 1 }, { id: 1, score: 0.5 }]);
  const batch = await index.searchBatch([[1, 0, 0], [0, 0, 1]], 50);
  assert.equal(batch[0].length, 2);
  assert.equal(batch[1].length, 2);
});

test('remove drops ids, skips unknown ones, and the rest stay searchable', () => {
  const dim = 20;
  const vecs = unitVectors(300, dim, 9);
  const ids = vecs.map((_, i) => i + 1000);
  const index = new VectorIndex({ dim });
  index.add(ids, vecs);
  const bytesBefore = index.vectorBytes;
  const gone = ids.filter((_, i) => i % 4 === 1);
  assert.equal(index.remove([...gone, 5, gone[0]]), gone.length);
  assert.equal(index.count, 300 - gone.length);
  assert.equal(index.vectorBytes, bytesBefore * (300 - gone.length) / 300);
  assert.equal(index.remove([]), 0);
  for (let i = 0; i < 300; i++) {
    assert.equal(index.has(ids[i]), i % 4 !== 1);
    if (i % 4 !== 1) assert.equal(index.searchSync(vecs[i], 1)[0].id, ids[i], `id ${ids[i]} is its own best match`);
  }
  const all = index.searchSync(vecs[0], 1000).map((h) => h.id);
  assert.equal(all.length, index.count);
  for (const id of gone) assert.ok(!all.includes(id), `removed id ${id} came back`);
  // A removed id can be added again (gone[0] is ids[1], so vecs[1] is its own vector).
  index.add([gone[0]], [vecs[1]]);
  assert.equal(index.searchSync(vecs[1], 1)[0].id, gone[0]);
});

test('simdLevel is reported, and forced levels rank the same', () => {
  assert.match(VectorIndex.simdLevel, /^(avx512|avx2|neon|scalar)$/);
  const script = fileURLToPath(new URL('../src/index/index.js', import.meta.url));
  const probe = (level: string) => {
    const code = `
      const { VectorIndex } = await import(${JSON.stringify(script)});
      const dim = 37, index = new VectorIndex({ dim });
      let s = 7; const r = () => ((s = (s * 48271) % 2147483647) / 2147483647) - 0.5;
      const rows = Array.from({ length: 500 }, () => Array.from({ length: dim }, r));
      index.add(rows.map((_, i) => i), rows);
      const hits = index.searchSync(Array.from({ length: dim }, r), 10);
      console.log(JSON.stringify({ level: VectorIndex.simdLevel, hits }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, CROSSGATE_SIMD: level } });
    return JSON.parse(out.toString()) as { level: string; hits: SearchHit[] };
  };
  const scalar = probe('scalar');
  assert.equal(scalar.level, 'scalar');
  const native = probe(VectorIndex.simdLevel);
  assert.equal(native.level, VectorIndex.simdLevel);
  assertSameTopK(native.hits, scalar.hits, 1e-5, 1e-6);
  assert.throws(() => execFileSync(process.execPath, ['--input-type=module', '-e',
    `const { VectorIndex } = await import(${JSON.stringify(script)}); new VectorIndex({ dim: 2 });`],
    { env: { ...process.env, CROSSGATE_SIMD: 'sse9' }, stdio: 'pipe' }), /CROSSGATE_SIMD=sse9 is not a SIMD level/);
});
