// The keyword fallback end to end over the built-in Collection and its native BM25 index: the error-code
// document that dense retrieval misses is found by keyword, reranked by the same cross-encoder and kept
// (answer_from_fallback); the library, the CLI and the gap log agree on that decision. It runs once the
// collection has a keyword index (the native BM25 index); before that the flow tests in
// 52.pipeline.flow.test.ts cover the fallback over a second real Retriever.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { Collection } from '../src/pipeline/collection.js';
import { DEMO_CORPUS, DEMO_ERROR_CODE } from '../src/pipeline/demo-corpus.js';
import { GapLog, readGapLog } from '../src/pipeline/gaps.js';
import { PrecisionPipeline, type GateDecision } from '../src/pipeline/precision.js';
import { crossgateAsync } from './60.cli.run.js';
import { decisionCore } from './63.cli.ask.decision.js';

const run = (args: string[]) => crossgateAsync(args, { ...process.env, CROSSGATE_DEBUG: '', CROSSGATE_GAP_LOG: '' });

/** Whether this build's Collection has a keyword index (decided before the suite, so the skip is honest about why). */
async function collectionHasKeyword(): Promise<boolean> {
  const root = await mkdtemp(join(tmpdir(), 'crossgate-kw-probe-'));
  try {
    const bi = await BiEncoder.load(await ensureGenerated('tiny-bi', { root: join(root, 'models') }));
    try {
      return Collection.create(bi).modes.includes('keyword');
    } finally {
      await bi.close();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const HAS_KEYWORD = await collectionHasKeyword();

describe('keyword fallback over the built-in collection', { skip: HAS_KEYWORD ? false : 'the built-in Collection has no keyword index in this build' }, () => {
  let root: string;
  let crossDir: string;
  let cross: CrossEncoder;
  let bi: BiEncoder;
  let collection: Collection;
  let dir: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-flow-kw-'));
    crossDir = await ensureGenerated('tiny-cross', { root: join(root, 'models') });
    cross = await CrossEncoder.load(crossDir);
    bi = await BiEncoder.load(await ensureGenerated('tiny-bi', { root: join(root, 'models') }));
    collection = Collection.create(bi);
    await collection.add(DEMO_CORPUS);
    dir = join(root, 'demo-index');
    await collection.save(dir);
  });
  after(async () => {
    await cross?.close();
    await bi?.close();
    await rm(root, { recursive: true, force: true });
  });

  /** A wording and top-k where only the keyword list holds the best passage (seeded models: deterministic). */
  async function forced(): Promise<{ query: string; topK: number; threshold: number }> {
    for (const query of [`what does error ${DEMO_ERROR_CODE} mean`, `error ${DEMO_ERROR_CODE}`, DEMO_ERROR_CODE, `${DEMO_ERROR_CODE} upgrade`]) {
      for (const topK of [5, 3, 1]) {
        const p = new PrecisionPipeline({ retriever: collection, crossEncoder: cross, topK, threshold: 1 });
        const d = await p.search(query);
        const dense = d.candidates.filter((c) => c.mode === 'dense').map((c) => c.probability);
        const kw = d.candidates.filter((c) => c.mode === 'keyword').map((c) => c.probability);
        if (dense.length > 0 && kw.length > 0 && Math.max(...kw) > Math.max(...dense) + 1e-4) {
          return { query, topK, threshold: (Math.max(...dense) + Math.max(...kw)) / 2 };
        }
      }
    }
    throw new Error('no wording lets the keyword fallback outscore dense retrieval');
  }

  it('finds the error-code document by keyword when dense retrieval misses it, and answers from it', async () => {
    assert.deepEqual([...collection.modes], ['dense', 'keyword', 'hybrid']);
    const kw = await collection.retrieve(`error ${DEMO_ERROR_CODE}`, { k: 3, mode: 'keyword' });
    assert.equal(kw[0].id, 'err-1', 'BM25 ranks the only document holding the code first');
    const f = await forced();
    const gapLog = new GapLog(join(root, 'lib-gaps.jsonl'));
    const p = new PrecisionPipeline({ retriever: collection, crossEncoder: cross, topK: f.topK, threshold: f.threshold, gapLog });
    const d = await p.search(f.query);
    assert.equal(d.outcome, 'answer_from_fallback');
    assert.deepEqual(d.path.map((s) => `${s.retriever}:${s.mode}:${s.status}`), ['collection:dense:ran', 'collection:keyword:ran']);
    assert.ok(d.kept.some((c) => c.id === 'err-1' && c.mode === 'keyword' && c.retriever === 'collection'));
    assert.ok(d.prompt!.includes(DEMO_ERROR_CODE));
    const raw = await cross.score(f.query, [DEMO_CORPUS.find((x) => x.id === 'err-1')!.text]);
    assert.ok(Math.abs(raw.probabilities[0] - d.kept.find((c) => c.id === 'err-1')!.probability) < 1e-5, 'the same cross-encoder scored it');
    const log = await readGapLog(gapLog.path);
    assert.equal(log.entries.length, 1);
    assert.equal(log.entries[0].outcome, 'answer_from_fallback');
    assert.deepEqual(log.entries[0].path, ['collection:dense', 'collection:keyword']);
    // Off: the same question is unanswered.
    assert.equal((await p.search(f.query, { fallback: 'off' })).outcome, 'no_relevant');
  });

  it('crossgate search --fallback gives the library\'s decision, and the gap report counts the fallback', async () => {
    const f = await forced();
    const loaded = new PrecisionPipeline({ retriever: await Collection.load(dir, bi), crossEncoder: cross, topK: f.topK, threshold: f.threshold });
    const gapPath = join(root, 'cli-gaps.jsonl');
    for (const fallback of ['keyword', 'hybrid', 'off'] as const) {
      const r = await run(['search', '--index', dir, '--cross-encoder', crossDir, '--query', f.query, '--top-k', String(f.topK), '--threshold', String(f.threshold), '--fallback', fallback, '--gap-log', gapPath, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const d = JSON.parse(r.stdout) as GateDecision;
      assert.deepEqual(decisionCore(d), decisionCore(await loaded.search(f.query, { fallback })), `--fallback ${fallback}`);
      assert.deepEqual(d.path.map((s) => s.mode), fallback === 'off' ? ['dense'] : ['dense', fallback]);
      if (fallback === 'keyword') assert.equal(d.outcome, 'answer_from_fallback');
      if (fallback === 'off') assert.equal(d.outcome, 'no_relevant');
    }
    const report = await run(['gaps', '--gap-log', gapPath, '--json']);
    const g = JSON.parse(report.stdout);
    assert.equal(g.decisions.answer_from_fallback >= 1, true);
    assert.equal(g.decisions.no_relevant, 1);
    assert.equal(g.groups.length, 1, 'one question, whatever its outcomes');
    // --mode keyword first: the keyword fallback is the same mode, so it is skipped, not run twice.
    const kwFirst = await run(['search', '--index', dir, '--cross-encoder', crossDir, '--query', f.query, '--mode', 'keyword', '--threshold', '1', '--no-gap-log', '--json']);
    assert.equal(kwFirst.code, 0, kwFirst.stderr);
    assert.deepEqual((JSON.parse(kwFirst.stdout) as GateDecision).path.map((s) => `${s.mode}:${s.status}`), ['keyword:ran', 'keyword:skipped']);
  });
});
