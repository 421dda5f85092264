// Saves killed mid-write: a real child process pauses inside the native file writer of a vector index, a
// keyword index or a collection (the CROSSGATE_FAULT_SAVE_AFTER_BYTES=<n>:pause hook) and is killed with
// SIGKILL there. Its temporaries are
// kept while it lives, removed by the next save or load once it is dead, and the data saved before
// is never lost.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { KeywordIndex } from '../src/index/keyword-index.js';
import { VectorIndex } from '../src/index/vector-index.js';
import { Collection, type CollectionDocument } from '../src/pipeline/collection.js';

const VECTOR_INDEX_JS = fileURLToPath(new URL('../src/index/vector-index.js', import.meta.url));
const KEYWORD_INDEX_JS = fileURLToPath(new URL('../src/index/keyword-index.js', import.meta.url));
const COLLECTION_JS = fileURLToPath(new URL('../src/pipeline/collection.js', import.meta.url));
const BI_ENCODER_JS = fileURLToPath(new URL('../src/infer/bi-encoder.js', import.meta.url));

const OLD_DOCS: CollectionDocument[] = [
  { id: 'dog', text: 'Dogs are loyal companions that love long walks.' },
  { id: 'soup', text: 'Simmer the onions slowly before adding the stock.' },
];
const NEW_DOCS: CollectionDocument[] = [
  { id: 'moon', text: 'The moon orbits the earth roughly every twenty-seven days.' },
  { id: 'rain', text: 'Heavy rain is expected across the north tomorrow.' },
  { id: 'tax', text: 'File your tax return before the April deadline.' },
];

let root: string;
before(async () => { root = await mkdtemp(join(tmpdir(), 'crossgate-interrupted-save-')); });
after(async () => { await rm(root, { recursive: true, force: true }); });

/** Starts `script` with the pause hook and resolves once the native writer says it paused mid-write. */
async function pausedChild(script: string, args: string[], what = 'index'): Promise<ChildProcess> {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, CROSSGATE_FAULT_SAVE_AFTER_BYTES: '100:pause' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      err += d;
      if (err.includes(`crossgate-fault: ${what} save paused`)) resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`the child exited (${code ?? signal}) before pausing: ${err}`)));
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  const [, signal] = await exited;
  assert.equal(signal, 'SIGKILL');
}

const siblings = (dir: string, name: string) => readdirSync(dir).filter((n) => n.startsWith(`${name}.`)).sort();

/** What differs between the two index files: how to write the old one, the child's script, how to read it back. */
interface IndexKind {
  name: string;
  file: string;
  writeOld(path: string): Promise<() => Promise<void>>;
  childLines: string[];
  readBack(path: string): Promise<number[]>;
}

const KINDS: IndexKind[] = [
  {
    name: 'VectorIndex',
    file: 'v.cgvi',
    async writeOld(path) {
      const old = new VectorIndex({ dim: 4 });
      old.add([7, 8], [[1, 0, 0, 0], [0, 1, 0, 0]]);
      await old.save(path);
      return () => old.save(path);
    },
    childLines: [
      `import { VectorIndex } from ${JSON.stringify(VECTOR_INDEX_JS)};`,
      'const index = new VectorIndex({ dim: 4 });',
      'index.add(Array.from({ length: 500 }, (_, i) => i), Array.from({ length: 500 }, () => [0, 0, 1, 0]));',
      'await index.save(process.argv[2]);',
    ],
    async readBack(path) {
      return (await (await VectorIndex.load(path)).search([1, 0, 0, 0], 2)).map((h) => h.id);
    },
  },
  {
    name: 'KeywordIndex',
    file: 'k.cgki',
    async writeOld(path) {
      const old = new KeywordIndex();
      await old.add([{ id: 7, text: 'loyal dogs walk' }, { id: 8, text: 'dogs and onions' }]);
      await old.save(path);
      return () => old.save(path);
    },
    childLines: [
      `import { KeywordIndex } from ${JSON.stringify(KEYWORD_INDEX_JS)};`,
      'const index = new KeywordIndex();',
      'await index.add(Array.from({ length: 500 }, (_, i) => ({ id: i, text: `moon orbit ${i}` })));',
      'await index.save(process.argv[2]);',
    ],
    async readBack(path) {
      return (await (await KeywordIndex.load(path)).search('loyal dogs', 2)).map((h) => h.id);
    },
  },
];

for (const kind of KINDS) {
  describe(`${kind.name}.save killed mid-write`, () => {
    it('keeps the old file, keeps a live writer\'s temporary, and removes a dead one\'s at the next load and save', async () => {
      const dir = join(root, kind.name);
      await mkdir(dir);
      const path = join(dir, kind.file);
      const saveOld = await kind.writeOld(path);
      const script = join(root, `${kind.name}-child.mjs`);
      writeFileSync(script, kind.childLines.join('\n'));
      const child = await pausedChild(script, [path], kind.name === 'KeywordIndex' ? 'keyword index' : 'index');
      try {
        const [tmp] = siblings(dir, kind.file);
        assert.match(tmp, new RegExp(`^${kind.file.replace('.', '\\.')}\\.tmp-${child.pid}-[0-9a-f]+$`), 'the paused save has its temporary beside the file');
        // A live writer's temporary is kept by both load and save.
        assert.deepEqual(await kind.readBack(path), [7, 8]);
        await saveOld();
        assert.deepEqual(siblings(dir, kind.file), [tmp]);
      } finally {
        await kill(child);
      }
      assert.deepEqual(await kind.readBack(path), [7, 8], 'the old file is intact');
      assert.deepEqual(siblings(dir, kind.file), [], 'load removed the dead writer\'s temporary');

      const again = await pausedChild(script, [path], kind.name === 'KeywordIndex' ? 'keyword index' : 'index');
      await kill(again);
      assert.equal(siblings(dir, kind.file).length, 1);
      await saveOld();
      assert.deepEqual(siblings(dir, kind.file), [], 'save removed the dead writer\'s temporary');
    });
  });
}

describe('Collection.save killed mid-write', () => {
  let bi: BiEncoder;
  let modelDir: string;
  let script: string;
  before(async () => {
    modelDir = await ensureGenerated('tiny-bi');
    bi = await BiEncoder.load(modelDir, { workers: 1, threads: 1 });
    script = join(root, 'collection-child.mjs');
    writeFileSync(script, [
      `import { BiEncoder } from ${JSON.stringify(BI_ENCODER_JS)};`,
      `import { Collection } from ${JSON.stringify(COLLECTION_JS)};`,
      'const [modelDir, dir, docs] = process.argv.slice(2);',
      'const bi = await BiEncoder.load(modelDir, { workers: 1, threads: 1 });',
      'const c = Collection.create(bi);',
      'await c.add(JSON.parse(docs));',
      'await c.save(dir);',
    ].join('\n'));
  });
  after(async () => { await bi?.close(); });

  async function assertHolds(dir: string, docs: CollectionDocument[]): Promise<void> {
    const c = await Collection.load(dir, bi);
    assert.deepEqual(c.documents().map((d) => d.id), docs.map((d) => d.id));
  }

  it('load keeps the old collection, keeps a live saver\'s temporary and removes a dead one\'s', async () => {
    const parent = join(root, 'over-old');
    const dir = join(parent, 'c');
    const c = Collection.create(bi);
    await c.add(OLD_DOCS);
    await c.save(dir);
    const child = await pausedChild(script, [modelDir, dir, JSON.stringify(NEW_DOCS)]);
    try {
      assert.equal(siblings(parent, 'c').length, 1, 'the paused save has its temporary directory');
      await assertHolds(dir, OLD_DOCS);
      assert.equal(siblings(parent, 'c').length, 1, 'a live saver\'s temporary is kept');
    } finally {
      await kill(child);
    }
    await assertHolds(dir, OLD_DOCS);
    assert.deepEqual(siblings(parent, 'c'), [], 'load removed the dead saver\'s temporary');
  });

  it('a first save killed mid-write leaves nothing after the next save', async () => {
    const parent = join(root, 'first');
    await mkdir(parent);
    const dir = join(parent, 'c');
    const child = await pausedChild(script, [modelDir, dir, JSON.stringify(NEW_DOCS)]);
    await kill(child);
    assert.equal(siblings(parent, 'c').length, 1);
    await assert.rejects(Collection.load(dir, bi));
    const c = Collection.create(bi);
    await c.add(OLD_DOCS);
    await c.save(dir);
    assert.deepEqual(readdirSync(parent), ['c'], 'the save removed the dead saver\'s temporary');
    await assertHolds(dir, OLD_DOCS);
  });
});
