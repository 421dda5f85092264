// Collection.save replaces a directory atomically: a save that fails, or a process killed at any step
// of it, leaves the old collection or the new one, complete. Collection.load refuses a collection whose
// documents and vectors disagree, naming the first mismatching document, instead of failing at search.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { Collection, type CollectionDocument } from '../src/pipeline/collection.js';

const OLD_DOCS: CollectionDocument[] = [
  { id: 'dog', text: 'Dogs are loyal companions that love long walks.', metadata: { topic: 'pets' } },
  { id: 'cat', text: 'Cats sleep most of the day and hunt at night.' },
  { id: 'ai', text: 'Neural networks learn patterns from large amounts of data.' },
  { id: 'soup', text: 'Simmer the onions slowly before adding the stock.' },
  { id: 'tax', text: 'File your tax return before the April deadline.' },
];
const NEW_DOCS: CollectionDocument[] = [
  { id: 'moon', text: 'The moon orbits the earth roughly every twenty-seven days.' },
  { id: 'rain', text: 'Heavy rain is expected across the north tomorrow.' },
];

const COLLECTION_JS = fileURLToPath(new URL('../src/pipeline/collection.js', import.meta.url));
const BI_ENCODER_JS = fileURLToPath(new URL('../src/infer/bi-encoder.js', import.meta.url));

describe('Collection durability', () => {
  let root: string;
  let modelDir: string;
  let bi: BiEncoder;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-collection-durability-'));
    modelDir = await ensureGenerated('tiny-bi');
    bi = await BiEncoder.load(modelDir, { workers: 1, threads: 1 });
  });
  after(async () => {
    await bi?.close();
    await rm(root, { recursive: true, force: true });
  });

  async function saved(dir: string, docs: CollectionDocument[]): Promise<Collection> {
    const c = Collection.create(bi);
    await c.add(docs);
    await c.save(dir);
    return c;
  }

  /** Loads `dir` and checks it is exactly `docs`, each found first by its own text. */
  async function assertHolds(dir: string, docs: CollectionDocument[]): Promise<void> {
    const c = await Collection.load(dir, bi);
    assert.deepEqual(c.documents().map((d) => d.id), docs.map((d) => d.id));
    for (const d of docs) assert.equal((await c.search(d.text, 1))[0].id, d.id);
  }

  /** The parent holds the collection and nothing save() left behind. */
  function assertNoLeftovers(parent: string, name: string): void {
    assert.deepEqual(readdirSync(parent).filter((n) => n.startsWith(name)), [name]);
  }

  it('a save that fails while writing documents keeps the old collection with its old contents', async () => {
    const parent = join(root, 'fail-serialise');
    const dir = join(parent, 'c');
    await saved(dir, OLD_DOCS);
    const next = Collection.create(bi);
    // add() takes any plain object as metadata; a BigInt only fails when documents.jsonl is written,
    // after the vectors: the old save had already replaced vectors.cgvi by then.
    await next.add([...NEW_DOCS, { id: 'big', text: 'a number too big for JSON', metadata: { n: 10n } }]);
    await assert.rejects(next.save(dir), (e: Error) => e instanceof TypeError && /document "big" cannot be saved: its metadata is not JSON/.test(e.message));
    await assertHolds(dir, OLD_DOCS);
    assertNoLeftovers(parent, 'c');
  });

  it('a save that fails after any step keeps the old collection; the next save succeeds', async () => {
    const parent = join(root, 'fail-steps');
    const dir = join(parent, 'c');
    await saved(dir, OLD_DOCS);
    const next = Collection.create(bi);
    await next.add(NEW_DOCS);
    for (const step of ['vectors', 'documents', 'manifest', 'synced', 'aside']) {
      process.env.CROSSGATE_FAULT_COLLECTION_SAVE = step;
      try {
        await assert.rejects(next.save(dir), new RegExp(`after step "${step}" \\(injected`));
      } finally {
        delete process.env.CROSSGATE_FAULT_COLLECTION_SAVE;
      }
      await assertHolds(dir, OLD_DOCS);
      assertNoLeftovers(parent, 'c');
    }
    await next.save(dir);
    await assertHolds(dir, NEW_DOCS);
    assertNoLeftovers(parent, 'c');
  });

  it('a process killed at any step of save leaves the old or the new collection, complete', async () => {
    const script = join(root, 'save-child.mjs');
    writeFileSync(script, [
      `import { BiEncoder } from ${JSON.stringify(BI_ENCODER_JS)};`,
      `import { Collection } from ${JSON.stringify(COLLECTION_JS)};`,
      'const [modelDir, dir, docs] = process.argv.slice(2);',
      'const bi = await BiEncoder.load(modelDir, { workers: 1, threads: 1 });',
      'const c = Collection.create(bi);',
      'await c.add(JSON.parse(docs));',
      'await c.save(dir);',
      'await bi.close();',
    ].join('\n'));
    const steps: [string, 'old' | 'new'][] = [['vectors', 'old'], ['documents', 'old'], ['manifest', 'old'], ['synced', 'old'], ['aside', 'old'], ['swapped', 'new']];
    for (const [step, survivor] of steps) {
      const parent = join(root, `kill-${step}`);
      const dir = join(parent, 'c');
      await saved(dir, OLD_DOCS);
      const child = spawnSync(process.execPath, [script, modelDir, dir, JSON.stringify(NEW_DOCS)], {
        env: { ...process.env, CROSSGATE_FAULT_COLLECTION_SAVE: `${step}:kill` },
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(child.signal, 'SIGKILL', `the child should die at step ${step}: status ${child.status}, ${child.stderr}`);
      if (step === 'aside') assert.ok(!existsSync(dir), 'the kill fell between the two renames');
      await assertHolds(dir, survivor === 'old' ? OLD_DOCS : NEW_DOCS);
      // The next save clears what the dead process left behind.
      await saved(dir, NEW_DOCS);
      await assertHolds(dir, NEW_DOCS);
      assertNoLeftovers(parent, 'c');
    }
  });

  it('save refuses to replace a directory that holds other files', async () => {
    const dir = join(root, 'not-a-collection');
    await mkdir(dir, { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'keep me');
    const c = Collection.create(bi);
    await c.add(NEW_DOCS);
    await assert.rejects(c.save(dir), /holds notes\.txt, which is not part of a crossgate collection; .* pass a new or empty one/);
    assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'keep me');
    await c.save(join(root, 'empty-dir-ok'));
    await assertHolds(join(root, 'empty-dir-ok'), NEW_DOCS);
  });

  it('load refuses documents whose keys the index does not hold, naming the first one and the fix', async () => {
    const a = join(root, 'keys-a');
    await saved(a, OLD_DOCS.slice(0, 3)); // keys 0, 1, 2
    const b = join(root, 'keys-b');
    const other = Collection.create(bi);
    await other.add(OLD_DOCS);
    other.remove(['dog', 'cat']); // keys 2, 3, 4 remain: the same count as a, other keys
    await other.save(b);
    copyFileSync(join(b, 'vectors.cgvi'), join(a, 'vectors.cgvi'));
    await assert.rejects(Collection.load(a, bi), (e: Error) => {
      assert.match(e.message, /is damaged: documents\.jsonl line 1 \(id "dog"\) has key 0, which vectors\.cgvi does not hold; rebuild it \(`crossgate index build --force`/);
      return true;
    });
  });

  it('load refuses vectors that no document owns, naming the key', async () => {
    const dir = join(root, 'orphan');
    await saved(dir, OLD_DOCS.slice(0, 3));
    const path = join(dir, 'documents.jsonl');
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    writeFileSync(path, lines.slice(0, 2).join('\n') + '\n');
    await assert.rejects(Collection.load(dir, bi), /is damaged: vectors\.cgvi holds 3 vectors but documents\.jsonl 2 documents; vector key 2 has no document; rebuild it/);
  });

  it('load refuses two documents sharing a key', async () => {
    const dir = join(root, 'dup-key');
    await saved(dir, OLD_DOCS.slice(0, 3));
    const path = join(dir, 'documents.jsonl');
    const docs = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { key: number });
    docs[2].key = 0;
    writeFileSync(path, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
    await assert.rejects(Collection.load(dir, bi), /is damaged: documents\.jsonl line 3 \(id "ai"\) repeats key 0 of line 1/);
  });
});
