// The gap log: acknowledged entries survive a SIGKILLed writer, a foreign or locked log is a clear error
// while the search still answers, retention by age and size, torn lines skipped, and the grouped report.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { Collection } from '../src/pipeline/collection.js';
import { DEMO_CORPUS } from '../src/pipeline/demo-corpus.js';
import { GapLog, GapLogError, readGapLog, type GapEntry } from '../src/pipeline/gaps.js';
import { buildGapReport, groupKey, nearDuplicates, parseDuration } from '../src/pipeline/gaps-report.js';
import { PrecisionPipeline } from '../src/pipeline/precision.js';

const WRITER = fileURLToPath(new URL('./54.gaps.writer.js', import.meta.url));

function entry(query: string, outcome: GapEntry['outcome'] = 'no_relevant', t = new Date(), best = 0.05): GapEntry {
  return { t: t.toISOString(), outcome, collection: 'c', query, best, top: ['doc-1', 'doc-2'], path: ['collection:dense'], candidates: 2 };
}

describe('gap log', () => {
  let root: string;
  let cross: CrossEncoder;
  let bi: BiEncoder;
  let collection: Collection;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-gaps-'));
    cross = await CrossEncoder.load(await ensureGenerated('tiny-cross', { root: join(root, 'models') }));
    bi = await BiEncoder.load(await ensureGenerated('tiny-bi', { root: join(root, 'models') }));
    collection = Collection.create(bi);
    await collection.add(DEMO_CORPUS.slice(0, 6));
  });
  after(async () => {
    await cross?.close();
    await bi?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('loses no acknowledged entry when the writing process is killed with SIGKILL', async () => {
    const path = join(root, 'crash', 'gaps.jsonl');
    const child = spawn(process.execPath, [WRITER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked: number[] = [];
    const exited = once(child, 'exit');
    for await (const line of createInterface({ input: child.stdout! })) {
      const m = /^ack (\d+)$/.exec(line);
      if (m) acked.push(Number(m[1]));
      if (acked.length === 40) child.kill('SIGKILL');
    }
    const [code, signal] = await exited;
    assert.equal(signal, 'SIGKILL', `writer exited with ${code}`);
    assert.ok(acked.length >= 40);
    const log = await readGapLog(path);
    const queries = new Set(log.entries.map((e) => e.query));
    for (const i of acked) assert.ok(queries.has(`query number ${i}`), `acknowledged entry ${i} is in the log`);
    assert.ok(log.skipped <= 1, 'at most the one line being written when the kill came is torn');
    // The dead writer's lock is taken over and the log keeps working.
    const next = new GapLog(path, { lockTimeoutMs: 1000 });
    await next.append(entry('after the crash'));
    const again = await readGapLog(path);
    assert.equal(again.entries.at(-1)!.query, 'after the crash');
    assert.equal(again.entries.length, log.entries.length + 1);
  });

  it('records no_relevant decisions durably and answers are tallied without the query', async () => {
    const path = join(root, 'pipe', 'gaps.jsonl');
    const gapLog = new GapLog(path);
    const p = new PrecisionPipeline({ collection, crossEncoder: cross, topK: 3, gapLog, collectionLabel: '/data/demo' });
    const miss = await p.search('unrelated query about astrophysics', { threshold: 1 });
    assert.equal(miss.outcome, 'no_relevant');
    assert.deepEqual(miss.gap, { path, kind: 'gap', recorded: true, error: null });
    const hit = await p.search('tell me about canines', { threshold: 0 });
    assert.equal(hit.outcome, 'answer');
    assert.equal(hit.gap!.kind, 'tally');
    assert.equal(hit.gap!.recorded, true);
    await p.search('tell me about canines', { threshold: 0 });
    // Answers are counted in memory: nothing is written for them until a flush (timer, next gap, close).
    assert.equal((await readGapLog(path)).entries.length, 1);
    await gapLog.close();
    const log = await readGapLog(path);
    assert.equal(log.entries.length, 2);
    const [g, t] = log.entries;
    assert.equal(g.query, 'unrelated query about astrophysics');
    assert.equal(g.outcome, 'no_relevant');
    assert.equal(g.collection, '/data/demo');
    assert.equal(g.best, miss.bestProbability);
    assert.deepEqual(g.top, [...miss.kept, ...miss.dropped].map((c) => c.id));
    assert.deepEqual(g.path, miss.reason!.retrievers);
    assert.deepEqual(Object.keys(t).sort(), ['collection', 'count', 'outcome', 't'], 'an answer tally holds no query');
    assert.equal(t.count, 2, 'two answers, one line');
    // The next gap carries the tallies buffered since, in the same write.
    await p.search('tell me about canines', { threshold: 0 });
    await p.search('astrophysics', { threshold: 1 });
    const after = await readGapLog(path);
    assert.deepEqual(after.entries.slice(2).map((e) => [e.outcome, e.count]), [['answer', 1], ['no_relevant', undefined]]);
    assert.equal(buildGapReport(after).decisions.answer, 3);
    // recordAnswers false: answers leave no trace at all.
    const quiet = new PrecisionPipeline({ collection, crossEncoder: cross, gapLog: new GapLog(join(root, 'quiet.jsonl'), { recordAnswers: false }) });
    const q = await quiet.search('tell me about canines', { threshold: 0 });
    assert.equal(q.gap!.recorded, false);
    assert.equal(existsSync(join(root, 'quiet.jsonl')), false);
    // No gap log: nothing recorded, decision.gap is null.
    const none = await new PrecisionPipeline({ collection, crossEncoder: cross }).search('astrophysics', { threshold: 1 });
    assert.equal(none.gap, null);
  });

  it('a foreign file, a directory or a locked log is a clear error and the search still answers', async () => {
    const foreign = join(root, 'foreign.jsonl');
    await writeFile(foreign, 'id,text\n1,hello\n');
    const p = new PrecisionPipeline({ collection, crossEncoder: cross, gapLog: new GapLog(foreign) });
    const d = await p.search('astrophysics', { threshold: 1 });
    assert.equal(d.outcome, 'no_relevant');
    assert.equal(d.gap!.recorded, false);
    assert.match(d.gap!.error!, /gap log .*foreign\.jsonl is not a crossgate gap log \(its first line is "id,text"\); move it aside/);
    assert.equal(await readFile(foreign, 'utf8'), 'id,text\n1,hello\n', 'the foreign file is left untouched');
    await assert.rejects(readGapLog(foreign), (e: unknown) => e instanceof GapLogError && e.kind === 'corrupt');

    const dir = join(root, 'a-directory');
    await mkdir(dir);
    const inDir = await new PrecisionPipeline({ collection, crossEncoder: cross, gapLog: new GapLog(dir) }).search('astrophysics', { threshold: 1 });
    assert.match(inDir.gap!.error!, /is a directory; pass a file path with --gap-log/);

    // Locked by a live process that never lets go.
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      const locked = join(root, 'locked.jsonl');
      await writeFile(`${locked}.lock`, String(holder.pid));
      const lp = new PrecisionPipeline({ collection, crossEncoder: cross, gapLog: new GapLog(locked, { lockTimeoutMs: 200 }) });
      const ld = await lp.search('astrophysics', { threshold: 1 });
      assert.equal(ld.outcome, 'no_relevant');
      assert.equal(ld.gap!.recorded, false);
      assert.match(ld.gap!.error!, new RegExp(`is locked by process ${holder.pid} \\(lock file .*locked\\.jsonl\\.lock\\) for over 200 ms; the decision was not recorded; if that process is gone, delete`));
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('skips a torn last line, starts the next entry on a fresh line, and reports what it skipped', async () => {
    const path = join(root, 'torn.jsonl');
    const log = new GapLog(path);
    await log.append(entry('first'));
    await appendFile(path, '{"t":"2026-01-01T00:00:00.000Z","outcome":"no_rel');
    await log.append(entry('second'));
    const read = await readGapLog(path);
    assert.deepEqual(read.entries.map((e) => e.query), ['first', 'second']);
    assert.equal(read.skipped, 1);
    assert.equal(read.firstSkippedLine, 3);
  });

  it('keeps the log under its size limit and drops entries older than the retention age', async () => {
    const path = join(root, 'bounded.jsonl');
    const log = new GapLog(path, { maxBytes: 4096 });
    for (let i = 0; i < 120; i++) await log.append(entry(`bounded query ${i}`));
    assert.ok((await stat(path)).size <= 4096, 'never past maxBytes');
    const read = await readGapLog(path);
    assert.equal(read.entries.at(-1)!.query, 'bounded query 119', 'the newest entries stay');
    assert.ok(read.entries.length < 120 && read.entries.length > 10);
    const qs = read.entries.map((e) => Number(e.query!.split(' ').at(-1)));
    assert.deepEqual(qs, qs.map((_, i) => 120 - qs.length + i), 'a contiguous run of the newest');

    const aged = join(root, 'aged.jsonl');
    const old = new GapLog(aged);
    await old.append(entry('from last year', 'no_relevant', new Date(Date.now() - 400 * 86_400_000)));
    await old.append(entry('from yesterday', 'no_relevant', new Date(Date.now() - 86_400_000)));
    // A new process (a new GapLog) checks the age of the oldest entry on its first write.
    await new GapLog(aged, { maxAgeDays: 90 }).append(entry('today'));
    assert.deepEqual((await readGapLog(aged)).entries.map((e) => e.query), ['from yesterday', 'today']);
    assert.throws(() => new GapLog(aged, { maxBytes: 0 }), /maxBytes is 0; expected a positive number/);
  });

  it('groups near-duplicate queries, counts them, and computes the no-result rate', async () => {
    const now = Date.now();
    const at = (minsAgo: number): Date => new Date(now - minsAgo * 60_000);
    const entries: GapEntry[] = [
      entry('How do I reset my password?', 'no_relevant', at(50), 0.11),
      entry('how to reset password', 'no_relevant', at(40), 0.09),
      entry('Password reset!!', 'ambiguous', at(30), 0.31),
      entry('reset my pasword', 'no_relevant', at(20), 0.05),
      entry('what does error CG-4711 mean', 'answer_from_fallback', at(15), 0.7),
      entry('Opening hours of the café', 'no_relevant', at(10), 0.02),
      entry('opening hours of the cafe', 'no_relevant', at(5), 0.04),
      { t: at(4).toISOString(), outcome: 'answer', collection: 'c' },
      { t: at(3).toISOString(), outcome: 'answer', collection: 'c' },
      { t: at(2).toISOString(), outcome: 'answer', collection: 'c' },
    ];
    const r = buildGapReport({ path: '/x', exists: true, entries, skipped: 0, firstSkippedLine: null });
    assert.equal(r.decisions.total, 10);
    assert.equal(r.noResultRate, 5 / 10);
    assert.equal(r.noAnswerRate, 6 / 10);
    assert.equal(r.fallbackRate, 1 / 10);
    assert.equal(r.groups.length, 3);
    const [pw, cafe, err] = r.groups;
    assert.equal(pw.count, 4);
    assert.equal(pw.bestProbability, 0.31);
    assert.deepEqual(pw.outcomes, { no_relevant: 3, ambiguous: 1 });
    assert.equal(new Set(pw.variants).size, 4);
    assert.equal(cafe.count, 2, 'accents and case fold together');
    assert.equal(err.count, 1);
    assert.deepEqual(err.outcomes, { answer_from_fallback: 1 });
    assert.ok(nearDuplicates(groupKey('reset my password'), groupKey('reset my pasword')));
    assert.ok(!nearDuplicates(groupKey('reset my password'), groupKey('opening hours of the cafe')));
    assert.equal(parseDuration('7d'), 7 * 86_400_000);
    assert.equal(parseDuration('90s'), 90_000);
    assert.throws(() => parseDuration('7 days'), /--since is "7 days"; expected a positive duration like 90s, 30m, 24h, 7d or 2w/);
    const since = await readGapLog('/definitely/not/here.jsonl');
    assert.equal(since.exists, false);
    assert.equal(buildGapReport(since).noResultRate, null);
  });
});
