// POST /tokenize byte offsets follow the served tokenizer's normalizer: a cased tokenizer keeps case and
// accents, lowercase-without-strip keeps accents, strip-without-lowercase keeps case. Each is a copy of
// tiny-cross with a tokenizer.json built for those settings, served by a real server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { defaultConfig } from '../src/server/limits.js';
import { startServer, type RunningServer } from '../src/server/server.js';
import { Tokenizer } from '../src/tokenize/tokenizer.js';
import { buildTokenizerJson, CORPUS } from './fixtures/tokenize/corpus.js';

const INPUTS = ['Hello World from Köln', 'Grüße aus München, naïve Café', 'ÉCOLE Élève über Ärger', 'plain ascii text'];

const SETTINGS = [
  { name: 'cased', lowercase: false, stripAccents: false },
  { name: 'lower-keep-accents', lowercase: true, stripAccents: false },
  { name: 'cased-strip-accents', lowercase: false, stripAccents: true },
  { name: 'uncased', lowercase: true, stripAccents: null },
] as const;

/** The input characters as that normalizer turns them (what a token's bytes must read as). */
function normalised(s: string, lowercase: boolean, strip: boolean): string {
  let out = strip ? s.normalize('NFD').replace(/\p{Mn}/gu, '') : s;
  if (lowercase) out = out.toLowerCase();
  return out;
}

describe('POST /tokenize offsets follow the tokenizer\'s normalizer', () => {
  let root: string;
  let server: RunningServer;
  const tokenizers = new Map<string, Tokenizer>();

  before(async () => {
    const base = await ensureGenerated('tiny-cross');
    root = mkdtempSync(join(tmpdir(), 'crossgate-tokenize-'));
    const rerankers = [];
    for (const s of SETTINGS) {
      const dir = join(root, s.name);
      cpSync(base, dir, { recursive: true });
      // A vocabulary built from these very inputs (plus the fixture corpus), so every word has its pieces.
      const json = buildTokenizerJson({ lowercase: s.lowercase, stripAccents: s.stripAccents }, [...INPUTS, ...CORPUS.slice(0, 40)]);
      writeFileSync(join(dir, 'tokenizer.json'), json);
      tokenizers.set(s.name, Tokenizer.fromJSON(json));
      rerankers.push({ name: s.name, dir });
    }
    server = await startServer({ ...defaultConfig(), port: 0, workers: 1, threads: 1 }, { rerankers, embedders: [] }, { log: () => undefined });
  });

  after(async () => {
    await server?.shutdown('test done');
    if (root) rmSync(root, { recursive: true, force: true });
  });

  for (const s of SETTINGS) {
    const strip = s.stripAccents ?? s.lowercase;
    it(`${s.name} (lowercase ${s.lowercase}, strip_accents ${String(s.stripAccents)}): every word piece's bytes read as the piece`, async () => {
      const r = await fetch(`${server.url}/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: INPUTS, model: s.name }) });
      assert.equal(r.status, 200);
      const json = await r.json() as { id: number; text: string; special: boolean; start: number | null; stop: number | null }[][];
      const tok = tokenizers.get(s.name)!;
      let accented = 0;
      INPUTS.forEach((text, i) => {
        const toks = json[i];
        assert.deepEqual(toks.map((t) => t.id), tok.encode(text, null, { maxLength: Infinity }).ids, 'ids are the tokenizer\'s');
        const bytes = Buffer.from(text);
        let last = 0;
        for (const t of toks) {
          if (t.special || t.text === '[UNK]') {
            assert.equal(t.start, null);
            continue;
          }
          assert.ok(Number.isInteger(t.start) && Number.isInteger(t.stop), `${s.name}: no offsets for ${JSON.stringify(t.text)} in ${JSON.stringify(text)}`);
          assert.ok(t.start! >= last, 'offsets move forward');
          last = t.stop!;
          const original = bytes.subarray(t.start!, t.stop!).toString();
          assert.equal(normalised(original, s.lowercase, strip), t.text.replace(/^##/, ''), `${s.name}: bytes ${t.start}..${t.stop} of ${JSON.stringify(text)}`);
          if (/[^\x00-\x7f]/.test(t.text)) accented++;
        }
      });
      // The tokenizers that keep accents have pieces with them, and those got offsets too.
      if (!strip) assert.ok(accented >= 4, `${s.name}: ${accented} pieces with accents`);
      if (!s.lowercase) assert.ok(json.flat().some((t) => /^[A-ZÄÉÖÜ]/.test(t.text)), `${s.name}: cased pieces`);
    });
  }
});
