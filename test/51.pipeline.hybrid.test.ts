// Collections with a BM25 index: keyword-only and dense + keyword, retrieve() in every mode, reciprocal rank
// fusion (k = 60, weights, per-list sources), add/remove kept consistent across both indexes, save/reload.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { Collection, fuse, RRF_K, type CollectionDocument } from '../src/pipeline/collection.js';

const DOCS: CollectionDocument[] = [
  { id: 'err', text: 'Error E4021 means the flux capacitor is misaligned.', metadata: { title: 'Troubleshooting codes' } },
  { id: 'dog', text: 'Dogs are loyal companions that love long walks.' },
  { id: 'cat', text: 'Cats sleep most of the day and hunt at night.' },
  { id: 'tax', text: 'File your tax return before the April deadline.', metadata: { title: 'Taxes' } },
  { id: 'moon', text: 'The moon orbits the earth roughly every twenty-seven days.' },
];

describe('hybrid retrieval', () => {
  let root: string;
  let bi: BiEncoder;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-hybrid-'));
    bi = await BiEncoder.load(await ensureGenerated('tiny-bi', { root: join(root, 'models') }));
  });
  after(async () => {
    await bi.close();
    await rm(root, { recursive: true, force: true });
  });

  it('a keyword-only collection finds exact terms, titles included, and reloads without a model', async () => {
    const c = Collection.createKeyword();
    assert.deepEqual(c.modes, ['keyword']);
    await c.add(DOCS);
    const hits = await c.retrieve('what does error e4021 mean?', { k: 3 });
    assert.equal(hits[0].id, 'err');
    assert.deepEqual(hits[0].sources, { keyword: { rank: 1, score: hits[0].score } });
    assert.deepEqual((await c.search('troubleshooting', 5)).map((h) => h.id), ['err']); // a title-only term
    await assert.rejects(c.retrieve('moon', { k: 3, mode: 'dense' }), /mode is "dense"; this collection supports keyword/);
    const dir = join(root, 'kw');
    await c.save(dir);
    assert.ok(existsSync(join(dir, 'keyword.cgki')));
    assert.ok(!existsSync(join(dir, 'vectors.cgvi')));
    const manifest = await Collection.readManifest(dir);
    assert.equal(manifest.biEncoder, null);
    assert.equal(manifest.keyword?.language, 'english');
    const back = await Collection.load(dir);
    assert.deepEqual(await back.retrieve('what does error e4021 mean?', { k: 3 }), hits);
    await assert.rejects(Collection.load(dir, bi), /keyword-only/);
  });

  it('dense + keyword by default: every mode runs, hybrid fuses by RRF with sources and weights', async () => {
    const c = Collection.create(bi);
    assert.deepEqual(c.modes, ['dense', 'keyword', 'hybrid']);
    await c.add(DOCS);
    const k = DOCS.length;
    const dense = await c.retrieve('error E4021 flux', { k, mode: 'dense' });
    const keyword = await c.retrieve('error E4021 flux', { k, mode: 'keyword' });
    const hybrid = await c.retrieve('error E4021 flux', { k, mode: 'hybrid' });
    assert.equal(keyword[0].id, 'err');
    for (const h of hybrid) {
      const d = dense.findIndex((x) => x.id === h.id);
      const kw = keyword.findIndex((x) => x.id === h.id);
      const expected = (d >= 0 ? 1 / (RRF_K + d + 1) : 0) + (kw >= 0 ? 1 / (RRF_K + kw + 1) : 0);
      assert.ok(Math.abs(h.score - expected) < 1e-12, `${h.id}: ${h.score} vs ${expected}`);
      assert.deepEqual(h.sources?.dense, d >= 0 ? { rank: d + 1, score: dense[d].score } : undefined);
      assert.deepEqual(h.sources?.keyword, kw >= 0 ? { rank: kw + 1, score: keyword[kw].score } : undefined);
    }
    for (let i = 1; i < hybrid.length; i++) assert.ok(hybrid[i - 1].score >= hybrid[i].score);
    // Weight 0 on dense leaves the keyword order.
    const kwOnly = await c.retrieve('error E4021 flux', { k, mode: 'hybrid', weights: { dense: 0 } });
    assert.deepEqual(kwOnly.slice(0, keyword.length).map((h) => h.id), keyword.map((h) => h.id));
    await assert.rejects(c.retrieve('x', { k: 2, mode: 'hybrid', weights: { dense: -1 } }), /weights.dense is -1/);
    await assert.rejects(c.retrieve('x', { k: 2, mode: 'hybrid', weights: { sparse: 1 } as never }), /weights.sparse is not a retrieval list/);
    assert.equal((await c.retrieve('error', { k: 2, mode: 'hybrid' })).length, 2);
  });

  it('remove and reload keep both indexes holding the same documents', async () => {
    const c = Collection.create(bi);
    await c.add(DOCS);
    assert.equal(c.remove(['err', 'nope']), 1);
    assert.deepEqual(await c.retrieve('E4021', { k: 3, mode: 'keyword' }), []);
    assert.ok((await c.retrieve('E4021', { k: 5, mode: 'hybrid' })).every((h) => h.id !== 'err' && h.sources?.keyword === undefined));
    const dir = join(root, 'both');
    await c.save(dir);
    const back = await Collection.load(dir, bi);
    assert.equal(back.size, DOCS.length - 1);
    assert.deepEqual(await back.retrieve('tax deadline', { k: 4, mode: 'hybrid' }), await c.retrieve('tax deadline', { k: 4, mode: 'hybrid' }));
    const kwOnly = await Collection.load(dir); // no model: the keyword index alone
    assert.deepEqual(kwOnly.modes, ['keyword']);
    assert.equal((await kwOnly.search('tax', 1))[0].id, 'tax');
    const denseOnly = Collection.create(bi, { keyword: false });
    assert.deepEqual(denseOnly.modes, ['dense']);
  });

  it('fuse() ranks by summed reciprocal ranks and breaks ties by best rank', () => {
    const a = [{ id: 'x', text: '', score: 0.9 }, { id: 'y', text: '', score: 0.5 }];
    const b = [{ id: 'y', text: '', score: 7 }, { id: 'z', text: '', score: 3 }];
    const f = fuse({ dense: a, keyword: b });
    assert.deepEqual(f.map((h) => h.id), ['y', 'x', 'z']);
    assert.equal(f[0].score, 1 / 62 + 1 / 61);
    assert.deepEqual(f[0].sources, { dense: { rank: 2, score: 0.5 }, keyword: { rank: 1, score: 7 } });
  });
});
