// Trial 5: pair tokenization throughput, crossgate's native batch tokenizer (Tokenizer.encodeRagged) against
// the `tokenizers` npm package (HF Rust) on the same workload (a) pairs, with every pair's ids and type ids
// asserted identical in the same run. tokenizers 0.23's napi encodeBatch takes single sequences only (a
// [query, passage] item fails with "Failed to convert JavaScript value ... into rust type `String`"), so the
// pair peer is encode(query, passage) for every pair, all issued at once; the passages alone are also
// compared against encodeBatch, the package's own batch path.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Tokenizer } from '../src/tokenize/index.js';
import type { RaggedEncoding } from '../src/tokenize/pad.js';
import { crossModel, CROSS_PRESET } from './lib/models.js';
import { packageVersion } from './lib/machine.js';
import { interleave, ratios, timeMs } from './lib/stats.js';
import { figure, ratio, standalone, type Trial } from './lib/trial.js';
import { ragWorkload } from './lib/workload.js';

const require = createRequire(import.meta.url);
const { Tokenizer: HfTokenizer } = require('tokenizers') as typeof import('tokenizers');

function assertSame(ours: RaggedEncoding, theirs: { ids: number[]; typeIds: number[] }[]): void {
  if (ours.count !== theirs.length) throw new Error(`crossgate encoded ${ours.count} pairs, tokenizers ${theirs.length}`);
  for (let i = 0; i < ours.count; i++) {
    const a = ours.ids.subarray(ours.offsets[i], ours.offsets[i + 1]);
    const t = ours.typeIds.subarray(ours.offsets[i], ours.offsets[i + 1]);
    const b = theirs[i];
    let same = a.length === b.ids.length;
    for (let j = 0; same && j < a.length; j++) same = a[j] === b.ids[j] && t[j] === b.typeIds[j];
    if (!same) throw new Error(`pair ${i}: crossgate ids [${Array.from(a.slice(0, 12)).join(',')}...] (${a.length}) differ from tokenizers [${b.ids.slice(0, 12).join(',')}...] (${b.ids.length})`);
  }
}

export const trial: Trial = {
  id: '05',
  file: '05.tokenize.batch.ts',
  title: 'Tokenizer: native batch pairs/s vs HF tokenizers (ids asserted identical)',
  async run({ quick, machine, log }) {
    const model = await crossModel();
    const nq = quick ? 20 : 100;
    const rounds = quick ? 5 : 9;
    const work = ragWorkload(nq, { seed: 505 });
    const texts: string[] = [];
    const pairs: string[] = [];
    for (const q of work.queries) for (const p of q.passages) { texts.push(q.query); pairs.push(p); }
    const n = texts.length;
    const path = join(model.dir, 'tokenizer.json');
    const ours = Tokenizer.fromFile(path);
    const hf = HfTokenizer.fromFile(path);
    hf.disablePadding();
    hf.setTruncation(ours.maxLength, { strategy: 'LongestFirst' as never });

    let last: RaggedEncoding | null = null;
    let lastHf: { ids: number[]; typeIds: number[] }[] = [];
    const runOurs = async (): Promise<number> => n / ((await timeMs(async () => { last = await ours.encodeRagged(texts, pairs); })) / 1000);
    const runOursSync = async (): Promise<number> => n / ((await timeMs(() => { last = ours.encodeRaggedSync(texts, pairs); })) / 1000);
    const runHf = async (): Promise<number> => n / ((await timeMs(async () => {
      const enc = await Promise.all(texts.map((t, i) => hf.encode(t, pairs[i])));
      lastHf = enc.map((e) => ({ ids: e.getIds(), typeIds: e.getTypeIds() }));
    })) / 1000);
    let lastSingle: RaggedEncoding | null = null;
    let lastHfSingle: { ids: number[]; typeIds: number[] }[] = [];
    const runOursSingle = async (): Promise<number> => n / ((await timeMs(async () => { lastSingle = await ours.encodeRagged(pairs); })) / 1000);
    const runHfSingle = async (): Promise<number> => n / ((await timeMs(async () => {
      const enc = await hf.encodeBatch(pairs);
      lastHfSingle = enc.map((e) => ({ ids: e.getIds(), typeIds: e.getTypeIds() }));
    })) / 1000);
    // Warm-up, and the identity check on the full set before anything is timed.
    await runOurs(); await runHf(); await runOursSingle(); await runHfSingle();
    assertSame(last!, lastHf);
    assertSame(lastSingle!, lastHfSingle);
    const res = await interleave(rounds, [
      { name: 'crossgate encodeRagged', run: runOurs },
      { name: 'crossgate encodeRaggedSync', run: runOursSync },
      { name: 'tokenizers encode', run: runHf },
      { name: 'crossgate encodeRagged singles', run: runOursSingle },
      { name: 'tokenizers encodeBatch singles', run: runHfSingle },
    ]);
    assertSame(last!, lastHf);
    assertSame(lastSingle!, lastHfSingle);
    log(`  ids and type ids identical for all ${n} pairs and ${n} passages (checked before and after the timed rounds)`);
    const realTokens = last!.ids.length;
    return {
      peer: `tokenizers ${packageVersion('tokenizers')} (HF Rust via napi), Tokenizer.fromFile(tokenizer.json), padding off, truncation ${ours.maxLength} longest_first: ` +
        `pairs via Promise.all(encode(query, passage)) (its encodeBatch rejects pairs), singles via encodeBatch(passages); getIds()/getTypeIds() included`,
      settings: { tokenizer: `${CROSS_PRESET}/tokenizer.json (BERT WordPiece, lowercase)`, pairs: n, tokens: realTokens, rounds, cores: machine.cores },
      figures: [
        figure('crossgate encodeRagged (async)', 'pairs/s', res['crossgate encodeRagged']),
        figure('crossgate encodeRaggedSync', 'pairs/s', res['crossgate encodeRaggedSync']),
        figure('tokenizers encode (pairs, all at once)', 'pairs/s', res['tokenizers encode']),
        figure('crossgate encodeRagged (passages alone)', 'texts/s', res['crossgate encodeRagged singles']),
        figure('tokenizers encodeBatch (passages alone)', 'texts/s', res['tokenizers encodeBatch singles']),
      ],
      ratios: [
        ratio('pairs: crossgate encodeRagged / tokenizers', ratios(res['crossgate encodeRagged'], res['tokenizers encode']), { name: 'tokenizer >= 5x HF tokenizers', op: '>=', value: 5 }),
        ratio('pairs: crossgate encodeRaggedSync / tokenizers', ratios(res['crossgate encodeRaggedSync'], res['tokenizers encode'])),
        ratio('singles: crossgate encodeRagged / tokenizers encodeBatch', ratios(res['crossgate encodeRagged singles'], res['tokenizers encodeBatch singles'])),
      ],
      notes: [`ids identical for all ${n} pairs (${realTokens.toLocaleString('en-US')} tokens)`],
    };
  },
};

await standalone(trial, import.meta.url);
