// One decision on every surface: for the same input the library, the CLI and HTTP /search give the same
// decision; POST /ask streams it as Server-Sent Events (decision, delta, final, or error after the deltas)
// from a loopback OpenAI-compatible stand-in, or answers one JSON object; GET /gaps and the decision
// metrics show what the collection could not answer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { NO_ANSWER_REPLY } from '../src/llm/answer.js';
import { Collection } from '../src/pipeline/collection.js';
import { DEMO_CORPUS } from '../src/pipeline/demo-corpus.js';
import { PrecisionPipeline, type GateDecision } from '../src/pipeline/precision.js';
import { defaultConfig } from '../src/server/limits.js';
import { startServer, type RunningServer } from '../src/server/server.js';
import { startStandIn, type StandIn } from './53.llm.stand-in.js';
import { crossgateAsync, type Run } from './60.cli.run.js';
import { decisionCore } from './63.cli.ask.decision.js';

const cli = (args: string[]): Promise<Run> => crossgateAsync(args, { ...process.env, CROSSGATE_DEBUG: '', CROSSGATE_GAP_LOG: '' });

/** The events of an SSE body: "event: NAME\ndata: JSON\n\n" blocks, in order. */
function events(body: string): { event: string; data: any }[] {
  return body.split('\n\n').filter((b) => b.trim() !== '').map((block) => {
    const lines = block.split('\n');
    const event = lines.find((l) => l.startsWith('event: '))!.slice(7);
    const data = JSON.parse(lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'));
    return { event, data };
  });
}

describe('one decision on every surface; /ask and /gaps', () => {
  let root: string;
  let crossDir: string;
  let dir: string;
  let llm: StandIn;
  let server: RunningServer;
  let lib: PrecisionPipeline;
  let cross: CrossEncoder;
  let bi: BiEncoder;
  const gapPath = (): string => join(root, 'server-gaps.jsonl');

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-surfaces-'));
    crossDir = await ensureGenerated('tiny-cross', { root: join(root, 'models') });
    const biDir = await ensureGenerated('tiny-bi', { root: join(root, 'models') });
    bi = await BiEncoder.load(biDir);
    cross = await CrossEncoder.load(crossDir);
    const c = Collection.create(bi);
    await c.add(DEMO_CORPUS);
    dir = join(root, 'demo-index');
    await c.save(dir);
    lib = new PrecisionPipeline({ collection: await Collection.load(dir, bi), crossEncoder: cross });
    llm = await startStandIn();
    server = await startServer({ ...defaultConfig(), port: 0, threads: 1 }, {
      rerankers: [{ name: 'a', dir: crossDir }], embedders: [{ name: 'bi', dir: biDir }], collection: dir,
      gapLog: gapPath(), llm: { baseURL: llm.baseURL, model: 'ok', apiKey: 'server-key' },
    }, { log: () => undefined });
  });
  after(async () => {
    await server?.shutdown();
    await llm?.close();
    await cross?.close();
    await bi?.close();
    await rm(root, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown, accept = 'application/json'): Promise<Response> =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify(body) });

  it('library, CLI and HTTP /search give the same decision for the same input', async () => {
    for (const [threshold, query, fallback] of [[0, 'tell me about canines', 'keyword'], [1, 'unrelated query about astrophysics', 'keyword'], [1, 'what does error CG-4711 mean', 'off']] as const) {
      const expected = decisionCore(await lib.search(query, { threshold, fallback }));
      const http = await post('/search', { query, threshold, fallback });
      assert.equal(http.status, 200);
      assert.deepEqual(decisionCore(await http.json() as GateDecision), expected, `HTTP, ${query}`);
      const c = await cli(['search', '--index', dir, '--cross-encoder', crossDir, '--query', query, '--threshold', String(threshold), '--fallback', fallback, '--no-gap-log', '--json']);
      assert.equal(c.code, 0, c.stderr);
      assert.deepEqual(decisionCore(JSON.parse(c.stdout) as GateDecision), expected, `CLI, ${query}`);
    }
  });

  it('POST /ask streams decision, deltas and a final answer citing document ids as Server-Sent Events', async () => {
    llm.override = null;
    const before = llm.requests.length;
    const r = await post('/ask', { query: 'tell me about canines', threshold: 0, top_k: 3 }, 'text/event-stream');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/event-stream');
    const evs = events(await r.text());
    assert.equal(evs[0].event, 'decision');
    assert.deepEqual(decisionCore(evs[0].data), decisionCore(await lib.search('tell me about canines', { threshold: 0, topK: 3 })));
    const deltas = evs.filter((e) => e.event === 'delta');
    assert.ok(deltas.length >= 8);
    assert.equal(deltas.map((e) => e.data.text).join(''), llm.answer);
    const final = evs.at(-1)!;
    assert.equal(final.event, 'final');
    assert.equal(final.data.text, llm.answer);
    assert.deepEqual(final.data.citations.map((c: { n: number; id: string }) => [c.n, c.id]), [[1, evs[0].data.kept[0].id], [2, evs[0].data.kept[1].id]]);
    assert.equal(llm.requests[before].authorization, 'Bearer server-key');
    assert.equal(llm.requests[before].messages[1].content, evs[0].data.prompt);
    // Without text/event-stream in Accept: one JSON object.
    const j = await post('/ask', { query: 'tell me about canines', threshold: 0, top_k: 3 });
    const body = await j.json() as { decision: GateDecision; final: { text: string }; error: unknown };
    assert.equal(j.headers.get('content-type'), 'application/json');
    assert.equal(body.final.text, llm.answer);
    assert.equal(body.error, null);
    assert.deepEqual(decisionCore(body.decision), decisionCore(evs[0].data));
  });

  it('POST /ask: an LLM failure mid-answer is an error event after the deltas, and the server keeps serving', async () => {
    llm.override = 'cut';
    try {
      const r = await post('/ask', { query: 'tell me about canines', threshold: 0 }, 'text/event-stream');
      assert.equal(r.status, 200);
      const evs = events(await r.text());
      assert.deepEqual(evs.map((e) => e.event), ['decision', 'delta', 'delta', 'error']);
      assert.equal(evs[3].data.error_type, 'llm_stream_cut');
      assert.equal(evs[3].data.partialText, evs[1].data.text + evs[2].data.text);
      assert.match(evs[3].data.error, /broke after \d+ characters/);
    } finally {
      llm.override = null;
    }
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
  });

  it('POST /ask generates nothing for no_relevant; GET /gaps and the metrics show the gap', async () => {
    const before = llm.requests.length;
    for (const q of ['How do I reset my password?', 'how to reset password']) {
      const r = await post('/ask', { query: q, threshold: 1 }, 'text/event-stream');
      const evs = events(await r.text());
      assert.deepEqual(evs.map((e) => e.event), ['decision', 'final']);
      assert.equal(evs[1].data.text, NO_ANSWER_REPLY);
      assert.equal(evs[1].data.generated, false);
      assert.equal(evs[0].data.gap.recorded, true);
    }
    assert.equal(llm.requests.length, before, 'the LLM was not called');
    const g = await fetch(`${server.url}/gaps?since=1h`);
    assert.equal(g.status, 200);
    const report = await g.json() as { log: string; groups: { query: string; count: number }[]; decisions: Record<string, number>; noResultRate: number };
    assert.equal(report.log, gapPath());
    const pw = report.groups.find((x) => /password/.test(x.query));
    assert.equal(pw?.count, 2, 'the two wordings are one group');
    assert.ok(report.decisions.no_relevant >= 3);
    assert.ok(report.noResultRate > 0);
    const bad = await fetch(`${server.url}/gaps?since=yesterday`);
    assert.equal(bad.status, 422);
    assert.match((await bad.json() as { error: string }).error, /since is "yesterday"; expected a positive duration/);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const count = (o: string): number => Number(new RegExp(`^crossgate_decisions_total\\{outcome="${o}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
    assert.ok(count('no_relevant') >= 3, metrics.slice(0, 200));
    assert.ok(count('answer') >= 3);
    const rate = Number(/^crossgate_no_answer_rate (\S+)/m.exec(metrics)![1]);
    const total = count('answer') + count('answer_from_fallback') + count('ambiguous') + count('no_relevant');
    assert.ok(Math.abs(rate - (count('no_relevant') + count('ambiguous')) / total) < 1e-9);
  });
});
