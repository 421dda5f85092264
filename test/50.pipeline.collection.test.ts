// Collection: add/search/remove over the native index, save/reload, and the errors a user can hit
// (duplicate ids, bad documents, reloading with a bi-encoder of another dimension).
import { cosine } from '../src/index/vector-math.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { Collection, type CollectionDocument } from '../src/pipeline/collection.js';

const DOCS: CollectionDocument[] = [
  { id: 'dog', text: 'Dogs are loyal companions that love long walks.', metadata: { topic: 'pets', n: 1 } },
  { id: 'cat', text: 'Cats sleep most of the day and hunt at night.' },
  { id: 'ai', text: 'Neural networks learn patterns from large amounts of data.', metadata: { topic: 'ai' } },
  { id: 'soup', text: 'Simmer the onions slowly before adding the stock.' },
  { id: 'tax', text: 'File your tax return before the April deadline.' },
  { id: 'moon', text: 'The moon orbits the earth roughly every twenty-seven days.' },
];


describe('Collection', () => {
  let root: string;
  let bi: BiEncoder;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-collection-'));
    bi = await BiEncoder.load(await ensureGenerated('tiny-bi', { root: join(root, 'models') }));
  });
  after(async () => {
    await bi?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('finds a document by its own text first, with cosine scores that match the bi-encoder', async () => {
    const c = Collection.create(bi);
    await c.add(DOCS);
    assert.equal(c.size, DOCS.length);
    for (const doc of DOCS) {
      const hits = await c.search(doc.text, 3);
      assert.equal(hits.length, 3);
      assert.equal(hits[0].id, doc.id, `searching "${doc.text}" should return ${doc.id} first`);
      assert.ok(Math.abs(hits[0].score - 1) < 1e-3, `self-similarity ${hits[0].score} should be ~1`);
      assert.ok(hits[0].score >= hits[1].score && hits[1].score >= hits[2].score, 'hits are sorted by score');
      assert.deepEqual(hits[0].metadata, doc.metadata);
    }
    const query = 'pets that need walks';
    const [qv, ...dv] = await bi.embed([query, ...DOCS.map((d) => d.text)]);
    const expected = DOCS.map((d, i) => ({ id: d.id, score: cosine(qv, dv[i]) })).sort((a, b) => b.score - a.score);
    const hits = await c.search(query, DOCS.length);
    assert.deepEqual(hits.map((h) => h.id), expected.map((e) => e.id));
    hits.forEach((h, i) => assert.ok(Math.abs(h.score - expected[i].score) < 1e-4, `${h.id}: ${h.score} vs ${expected[i].score}`));
  });

  it('returns all documents when k exceeds the collection, and nothing from an empty one', async () => {
    const c = Collection.create(bi);
    assert.deepEqual(await c.search('anything', 5), []);
    await c.add(DOCS.slice(0, 2));
    assert.equal((await c.search('anything', 10)).length, 2);
  });

  it('saves and reloads with the same hits, metadata and removals', async () => {
    const dir = join(root, 'saved');
    const c = Collection.create(bi);
    await c.add(DOCS);
    assert.equal(c.remove(['cat', 'not-there']), 1);
    assert.equal(c.has('cat'), false);
    await c.save(dir);
    for (const f of ['collection.json', 'documents.jsonl']) assert.ok(existsSync(join(dir, f)), `${f} written`);
    const manifest = await Collection.readManifest(dir);
    assert.equal(manifest.biEncoder?.dim, bi.dim);
    assert.equal(manifest.count, DOCS.length - 1);

    const loaded = await Collection.load(dir, bi);
    assert.equal(loaded.size, DOCS.length - 1);
    assert.deepEqual(loaded.get('dog'), DOCS[0]);
    const before = await c.search('a question about data', 5);
    const afterLoad = await loaded.search('a question about data', 5);
    assert.deepEqual(afterLoad.map((h) => h.id), before.map((h) => h.id));
    assert.ok(!afterLoad.some((h) => h.id === 'cat'), 'removed document stays removed after reload');
    // New documents after a reload must not reuse the numeric ids of existing ones.
    await loaded.add([{ id: 'cat', text: DOCS[1].text }]);
    const hits = await loaded.search(DOCS[1].text, 1);
    assert.equal(hits[0].id, 'cat');
    assert.equal((await loaded.search(DOCS[0].text, 1))[0].id, 'dog');
  });

  it('refuses to reload with a bi-encoder of another dimension, naming both', async () => {
    const dir = join(root, 'dims');
    const c = Collection.create(bi);
    await c.add(DOCS.slice(0, 3));
    await c.save(dir);
    const other = { dim: bi.dim + 8, spec: { ...bi.spec, name: 'other-model' } } as unknown as BiEncoder;
    await assert.rejects(Collection.load(dir, other), (e: Error) => {
      assert.match(e.message, new RegExp(`dim ${bi.dim}`));
      assert.match(e.message, new RegExp(`dim ${bi.dim + 8}`));
      return true;
    });
    await assert.rejects(Collection.load(join(root, 'nowhere'), bi), /not a crossgate collection/);
  });

  it('rejects duplicate ids and bad documents without changing the collection', async () => {
    const c = Collection.create(bi);
    await c.add(DOCS.slice(0, 2));
    await assert.rejects(c.add([{ id: 'x', text: 'a' }, { id: 'x', text: 'b' }]), /duplicate document id "x" at documents\[0\] and documents\[1\]/);
    await assert.rejects(c.add([{ id: 'new', text: 'a' }, { id: 'dog', text: 'b' }]), /documents\[1\]\.id "dog" is already in the collection/);
    await assert.rejects(c.add([{ id: 'ok', text: 'a' }, { id: 'bad', text: 42 } as unknown as CollectionDocument]), /documents\[1\]\.text .* is number/);
    await assert.rejects(c.add([{ id: '', text: 'a' }]), /documents\[0\]\.id is empty/);
    assert.equal(c.size, 2);
    assert.equal(c.has('new'), false);
    await assert.rejects(c.search('   '), /query is empty/);
  });

  it('reports progress per batch up to the total', async () => {
    const c = Collection.create(bi);
    const calls: [number, number][] = [];
    await c.add(DOCS, { batchSize: 4, onProgress: (d, t) => calls.push([d, t]) });
    assert.deepEqual(calls, [[0, 6], [4, 6], [6, 6]]);
  });
});
