// VectorIndex save/load: round trips for every storage, clear errors for corrupt or truncated files,
// and an atomic save whose failure midway leaves the previous file loadable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VectorIndex, type VectorStorage } from '../src/index/index.js';

function rows(n: number, dim: number, seed: number): Float32Array[] {
  let s = seed;
  const r = () => ((s = (s * 48271) % 2147483647) / 2147483647) - 0.5;
  return Array.from({ length: n }, () => Float32Array.from({ length: dim }, r));
}

const dir = mkdtempSync(join(tmpdir(), 'cg-index-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('save then load gives the same index, for every storage', async () => {
  for (const storage of ['f32', 'f16', 'int8'] as VectorStorage[]) {
    const dim = 33;
    const vecs = rows(400, dim, 3);
    const ids = vecs.map((_, i) => 2 ** 40 + i * 101);
    const index = new VectorIndex({ dim, storage });
    index.add(ids, vecs);
    index.remove([ids[5], ids[77]]);
    const path = join(dir, `round-${storage}.cgvi`);
    await index.save(path);
    const back = await VectorIndex.load(path);
    assert.equal(back.dim, dim);
    assert.equal(back.storage, storage);
    assert.equal(back.count, 398);
    assert.equal(back.has(ids[5]), false);
    assert.equal(back.has(ids[6]), true);
    const queries = rows(8, dim, 4);
    assert.deepEqual(await back.searchBatch(queries, 12), await index.searchBatch(queries, 12));
    // The loaded index keeps working: add and search.
    back.add([1], [vecs[5]]);
    assert.equal(back.searchSync(vecs[5], 1)[0].id, 1);
  }
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no temp files left behind');
});

test('corrupt and truncated files fail with the file name and the reason', async () => {
  const index = new VectorIndex({ dim: 4 });
  index.add([1, 2, 3], [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]);
  const good = join(dir, 'good.cgvi');
  await index.save(good);
  const bytes = readFileSync(good);
  const bad = join(dir, 'bad.cgvi');
  const expectLoadError = async (b: Uint8Array, message: RegExp, code = 'ERR_CROSSGATE_INDEX_CORRUPT') => {
    writeFileSync(bad, b);
    await assert.rejects(VectorIndex.load(bad), (e: Error & { code?: string }) => {
      assert.ok(e.message.includes(`'${bad}'`), `message names the file: ${e.message}`);
      assert.match(e.message, message);
      assert.equal(e.code, code);
      return true;
    });
  };
  await expectLoadError(bytes.subarray(0, 10), /the file is 10 bytes, shorter than the 40-byte header/);
  await expectLoadError(bytes.subarray(0, bytes.length - 3), /truncated or has trailing bytes/);
  await expectLoadError(Buffer.concat([bytes, Buffer.from([0])]), /truncated or has trailing bytes/);
  const flip = (at: number, mask: number) => {
    const c = Buffer.from(bytes);
    c[at] ^= mask;
    return c;
  };
  await expectLoadError(flip(1, 0xff), /bad magic; this is not a crossgate vector index file/);
  await expectLoadError(flip(8, 0x06), /format version 7 is not supported; this build reads version 1/);
  await expectLoadError(flip(16, 0x01), /header checksum mismatch/);
  await expectLoadError(flip(bytes.length - 9, 0x10), /checksum mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\); the file is corrupt/);
  await expectLoadError(new Uint8Array(0), /the file is 0 bytes/);
  // Every shorter prefix fails cleanly too.
  for (let len = 0; len < bytes.length; len += 7) {
    writeFileSync(bad, bytes.subarray(0, len));
    await assert.rejects(VectorIndex.load(bad), /crossgate index file/);
  }
  await assert.rejects(VectorIndex.load(join(dir, 'missing.cgvi')), { code: 'ERR_CROSSGATE_INDEX_IO', message: /cannot open crossgate index file '.*missing.cgvi': No such file/ });
  await assert.rejects(VectorIndex.load(dir), /is not a regular file/);
});

test('a save that fails midway leaves the previous file intact', async () => {
  const path = join(dir, 'atomic.cgvi');
  const small = new VectorIndex({ dim: 8 });
  small.add([1], [[1, 2, 3, 4, 5, 6, 7, 8]]);
  await small.save(path);
  const before = readFileSync(path);
  const big = new VectorIndex({ dim: 8 });
  big.add(Array.from({ length: 5000 }, (_, i) => i), rows(5000, 8, 9));
  process.env.CROSSGATE_FAULT_SAVE_AFTER_BYTES = '100000';
  try {
    await assert.rejects(big.save(path), { code: 'ERR_CROSSGATE_INDEX_IO', message: /cannot save index to '.*atomic.cgvi': writing '.*atomic.cgvi.tmp-\d+-[0-9a-f]+' failed after 100000 bytes/ });
  } finally {
    delete process.env.CROSSGATE_FAULT_SAVE_AFTER_BYTES;
  }
  assert.deepEqual(readFileSync(path), before);
  const back = await VectorIndex.load(path);
  assert.equal(back.count, 1);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('atomic')), ['atomic.cgvi'], 'the temp file was cleaned up');
  await assert.rejects(big.save(join(dir, 'no', 'such', 'dir.cgvi')), { code: 'ERR_CROSSGATE_INDEX_IO', message: /cannot create/ });
  await big.save(path);
  assert.equal((await VectorIndex.load(path)).count, 5000);
});
