// `crossgate search`, `ask` and `gaps` run as child processes: the CLI's decision equals the library's for
// the same input, unanswered queries land in the gap log and its report, and ask streams from a loopback
// OpenAI-compatible stand-in (JSON lines: decision, deltas, final or error).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { NO_ANSWER_REPLY } from '../src/llm/answer.js';
import { Collection } from '../src/pipeline/collection.js';
import { DEMO_CORPUS } from '../src/pipeline/demo-corpus.js';
import { PrecisionPipeline, type GateDecision } from '../src/pipeline/precision.js';
import { CLI, crossgateAsync, ok, type Run } from './60.cli.run.js';
import { decisionCore } from './63.cli.ask.decision.js';
import { startStandIn, type StandIn } from './53.llm.stand-in.js';

const CLI_ENV = { CROSSGATE_DEBUG: '', CROSSGATE_GAP_LOG: '', OPENAI_API_KEY: '', CROSSGATE_LLM_API_KEY: '' };

/** Runs the CLI without blocking this process's event loop (the LLM stand-in lives here). */
function crossgate(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return crossgateAsync(args, { ...process.env, ...CLI_ENV, ...env });
}

describe('crossgate search / ask / gaps', () => {
  let root: string;
  let crossDir: string;
  let biDir: string;
  let index: string;
  let llm: StandIn;
  let lib: PrecisionPipeline;
  let cross: CrossEncoder;
  let bi: BiEncoder;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-ask-'));
    crossDir = await ensureGenerated('tiny-cross', { root: join(root, 'models') });
    biDir = await ensureGenerated('tiny-bi', { root: join(root, 'models') });
    index = join(root, 'demo-index');
    const built = spawnSync(process.execPath, [CLI, 'index', 'build', '--bi-encoder', biDir, '--out', index], { input: DEMO_CORPUS.map((d) => JSON.stringify(d)).join('\n'), encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    llm = await startStandIn();
    cross = await CrossEncoder.load(crossDir);
    bi = await BiEncoder.load(biDir);
    lib = new PrecisionPipeline({ collection: await Collection.load(index, bi), crossEncoder: cross, topK: 3 });
  });
  after(async () => {
    await llm?.close();
    await cross?.close();
    await bi?.close();
    await rm(root, { recursive: true, force: true });
  });

  const flow = (query: string, ...extra: string[]): string[] => ['--index', index, '--cross-encoder', crossDir, '--query', query, '--top-k', '3', ...extra];

  it('search --json gives the library\'s decision, with outcome, augment, path and the finding retriever', async () => {
    for (const [threshold, query] of [['0', 'tell me about canines'], ['1', 'unrelated query about astrophysics']] as const) {
      const r = ok(await crossgate(['search', ...flow(query, '--threshold', threshold, '--json', '--no-gap-log')]));
      const d = JSON.parse(r.stdout) as GateDecision;
      const expected = await lib.search(query, { threshold: Number(threshold) });
      assert.deepEqual(decisionCore(d), decisionCore(expected));
      for (const key of ['outcome', 'augment', 'path', 'kept', 'dropped', 'candidates', 'prompt']) assert.ok(key in d, `decision has ${key}`);
      for (const c of d.kept) assert.deepEqual([c.retriever, c.mode], ['collection', 'dense']);
      assert.equal(d.gap, null, '--no-gap-log');
    }
    assert.equal(existsSync(`${index}.gaps.jsonl`), false, 'nothing was recorded with --no-gap-log');
    const human = ok(await crossgate(['search', ...flow('unrelated query about astrophysics', '--threshold', '1', '--no-gap-log')]));
    assert.match(human.stdout, /Path: collection:dense \(0\/3 kept, best 0\.\d{4}\) -> collection:keyword (unavailable|\(0\/\d kept)/);
    assert.match(human.stdout, /Outcome: no_relevant \[augment the collection\]/);
    assert.match(human.stdout, /Augment: collection:dense.*: the best of \d+ candidates reached probability 0\.\d{4}, below the threshold 1; add a document/);
  });

  it('records unanswered searches in <index>.gaps.jsonl and gaps reports them grouped, with the no-result rate', async () => {
    const logPath = `${index}.gaps.jsonl`;
    await rm(logPath, { force: true });
    for (const q of ['How do I reset my password?', 'how to reset password', 'unrelated query about astrophysics']) {
      const d = JSON.parse(ok(await crossgate(['search', ...flow(q, '--threshold', '1', '--json')])).stdout) as GateDecision;
      assert.equal(d.outcome, 'no_relevant');
      assert.deepEqual(d.gap, { path: logPath, kind: 'gap', recorded: true, error: null });
    }
    ok(await crossgate(['search', ...flow('tell me about canines', '--threshold', '0', '--json')]));
    const report = JSON.parse(ok(await crossgate(['gaps', '--index', index, '--json'])).stdout);
    assert.equal(report.log, logPath);
    assert.equal(report.decisions.total, 4);
    assert.equal(report.decisions.no_relevant, 3);
    assert.equal(report.noResultRate, 0.75);
    assert.equal(report.groups.length, 2);
    assert.equal(report.groups[0].count, 2, 'the two password questions are one group');
    assert.deepEqual(report.groups[0].outcomes, { no_relevant: 2 });
    assert.equal(typeof report.groups[0].bestProbability, 'number');
    const human = ok(await crossgate(['gaps', '--index', index, '--since', '1h']));
    assert.match(human.stdout, /no-result rate: 75\.0%/);
    assert.match(human.stdout, /1\. "(How do I reset my password\?|how to reset password)" {2}x2 {2}best 0\.\d{4} {2}\(no_relevant 2\)/);
    // A log elsewhere, or none at all.
    const other = join(root, 'elsewhere', 'gaps.jsonl');
    ok(await crossgate(['search', ...flow('astrophysics', '--threshold', '1', '--json')], { CROSSGATE_GAP_LOG: other }));
    assert.equal(JSON.parse(ok(await crossgate(['gaps', '--gap-log', other, '--json'])).stdout).decisions.total, 1);
    ok(await crossgate(['search', ...flow('astrophysics', '--threshold', '1', '--json')], { CROSSGATE_GAP_LOG: 'off' }));
    assert.equal(JSON.parse(ok(await crossgate(['gaps', '--gap-log', other, '--json'])).stdout).decisions.total, 1, 'CROSSGATE_GAP_LOG=off records nothing');
    const missing = ok(await crossgate(['gaps', '--index', join(root, 'never-built')]));
    assert.match(missing.stdout, /no gap log at .*never-built\.gaps\.jsonl yet/);
  });

  it('a corrupt gap log is named on the search\'s output and the search still answers', async () => {
    const bad = join(root, 'bad.jsonl');
    await rm(bad, { force: true });
    await import('node:fs/promises').then((fs) => fs.writeFile(bad, 'not a gap log\n'));
    const r = ok(await crossgate(['search', ...flow('astrophysics', '--threshold', '1', '--gap-log', bad)]));
    assert.match(r.stdout, /Outcome: no_relevant/);
    assert.match(r.stdout, /Gap log: NOT recorded: gap log .*bad\.jsonl is not a crossgate gap log/);
    const g = await crossgate(['gaps', '--gap-log', bad]);
    assert.equal(g.code, 1);
    assert.match(g.stderr, /is not a crossgate gap log/);
  });

  it('ask --json streams decision, deltas and a final answer whose citations name document ids', async () => {
    const before = llm.requests.length;
    const r = ok(await crossgate(['ask', ...flow('tell me about canines', '--threshold', '0', '--json', '--no-gap-log', '--llm-base-url', llm.baseURL, '--llm-model', 'ok')], { CROSSGATE_LLM_API_KEY: 'cli-key' }));
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
    assert.equal(lines[0].type, 'decision');
    const decision = lines[0].decision as GateDecision;
    assert.deepEqual(decisionCore(decision), decisionCore(await lib.search('tell me about canines', { threshold: 0 })));
    const deltas = lines.filter((l) => l.type === 'delta');
    assert.ok(deltas.length >= 8);
    const final = lines.at(-1)!;
    assert.equal(final.type, 'final');
    assert.equal(final.text, llm.answer);
    assert.equal(deltas.map((d) => d.text).join(''), llm.answer);
    assert.deepEqual((final.citations as { n: number; id: string }[]).map((c) => [c.n, c.id]), [[1, decision.kept[0].id], [2, decision.kept[1].id]]);
    assert.equal(llm.requests[before].authorization, 'Bearer cli-key', 'the key comes from CROSSGATE_LLM_API_KEY');
    assert.equal(llm.requests[before].messages[1].content, decision.prompt);

    const human = ok(await crossgate(['ask', ...flow('tell me about canines', '--threshold', '0', '--no-gap-log', '--llm-base-url', llm.baseURL, '--llm-model', 'ok')]));
    assert.ok(human.stdout.includes(llm.answer), 'the answer is printed as streamed');
    assert.match(human.stdout, /Sources:\n {2}\[1\] \S+ {2}\(probability 0\.\d{4}, via collection\)\n {2}\[2\] /);
  });

  it('ask: a cut stream prints what came, then the error, and exits 1', async () => {
    const r = await crossgate(['ask', ...flow('tell me about canines', '--threshold', '0', '--json', '--no-gap-log', '--llm-base-url', llm.baseURL, '--llm-model', 'cut')]);
    assert.equal(r.code, 1);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
    assert.deepEqual(lines.map((l) => l.type), ['decision', 'delta', 'delta', 'error']);
    assert.equal((lines[3].error as { error_type: string }).error_type, 'llm_stream_cut');
    assert.match(r.stderr, /^crossgate ask: the LLM stream from .* broke after \d+ characters/m);
    const human = await crossgate(['ask', ...flow('tell me about canines', '--threshold', '0', '--no-gap-log', '--llm-base-url', llm.baseURL, '--llm-model', 'rate-limited')]);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /\[answer incomplete: llm_rate_limited\]/);
    assert.match(human.stderr, /rate limiting \(429, retry after 7 s\)/);
  });

  it('ask generates nothing for no_relevant (the gap is recorded) and, without an LLM, returns the prompt', async () => {
    const before = llm.requests.length;
    const logPath = join(root, 'ask-gaps.jsonl');
    const r = ok(await crossgate(['ask', ...flow('unrelated query about astrophysics', '--threshold', '1', '--json', '--gap-log', logPath, '--llm-base-url', llm.baseURL, '--llm-model', 'ok')]));
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
    assert.deepEqual(lines.map((l) => l.type), ['decision', 'final']);
    assert.equal(lines[1].text, NO_ANSWER_REPLY);
    assert.equal(lines[1].generated, false);
    assert.equal(llm.requests.length, before, 'the LLM was not called');
    assert.equal((lines[0].decision as GateDecision).gap!.recorded, true);
    assert.match(await readFile(logPath, 'utf8'), /"query":"unrelated query about astrophysics","best":0\.\d+/);

    const bare = ok(await crossgate(['ask', ...flow('tell me about canines', '--threshold', '0', '--no-gap-log')]));
    assert.match(bare.stdout, /\(no LLM configured \(pass --llm-base-url and --llm-model\)/);
    assert.match(bare.stdout, /Prompt:\n {2}\| Answer the question using only the context below/);
  });

  it('usage errors name the flag and the accepted values (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [['search', ...flow('q', '--fallback', 'bm25')], /--fallback is "bm25"; expected one of keyword, hybrid, off/],
      [['search', ...flow('q', '--ambiguous', '0.5')], /--ambiguous is "0.5"; expected two probabilities LO,HI such as 0.1,0.5/],
      [['search', ...flow('q', '--ambiguous', '0.1,0.5', '--threshold', '0.3')], /--ambiguous and --threshold were both given/],
      [['search', ...flow('q', '--ambiguous', '0.6,0.5')], /--ambiguous.lower is 0.6 but --ambiguous.upper is 0.5/],
      [['ask', '--index', index, '--query', 'q'], /--cross-encoder is required: ask gates the passages/],
      [['ask', ...flow('q', '--llm-model', 'm')], /--llm-model was given without --llm-base-url/],
      [['ask', ...flow('q', '--llm-base-url', 'localhost:1', '--llm-model', 'm')], /llm base URL is "localhost:1"; expected an http\(s\) URL/],
      [['gaps'], /--index or --gap-log is required/],
      [['gaps', '--index', index, '--since', 'yesterday'], /--since is "yesterday"; expected a positive duration like 90s/],
    ];
    for (const [args, re] of cases) {
      const r = await crossgate(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });
});
