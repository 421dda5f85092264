// The same decision on every surface, WS included: for the same input the library, the CLI
// (`crossgate search --json`), HTTP /search and WS search (JSON and binary frames) give the same outcome,
// augment and path; search takes `mode` and `fallback` on HTTP and WS, and a mode the served collection
// lacks is a 422 naming `mode` and what it supports; WS `ask` streams candidates, partials, the decision,
// answer deltas and a final from a loopback OpenAI-compatible stand-in, with an LLM failure as an error
// message after the deltas.
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
import type { FinalMessage, ServerMessage } from '../src/wire/codec.js';
import { startStandIn, type StandIn } from './53.llm.stand-in.js';
import { crossgateAsync, type Run } from './60.cli.run.js';
import { decisionCore } from './63.cli.ask.decision.js';
import { TestClient } from './81.server.ws.client.js';

const cli = (args: string[]): Promise<Run> => crossgateAsync(args, { ...process.env, CROSSGATE_DEBUG: '', CROSSGATE_GAP_LOG: '' });

/** What a WS final carries of a decision: outcome, augment, path (no timings), kept indices, ranked results. */
function wsCore(d: GateDecision): unknown {
  const ranked = [...d.kept, ...d.dropped];
  return {
    outcome: d.outcome, augment: d.augment, threshold: d.threshold,
    path: d.path.map((s) => [s.retriever, s.mode, s.role, s.status, s.note, s.retrieved, s.scored, s.kept]),
    kept: d.kept.map((c) => c.index),
    results: ranked.map((c) => [c.index, Math.round(c.probability * 1e5) / 1e5]),
  };
}

function finalCore(f: FinalMessage, withPath = true): unknown {
  return {
    outcome: f.outcome, augment: f.augment, threshold: f.threshold,
    path: withPath ? (f.path ?? []).map((s) => [s.retriever, s.mode, s.role, s.status, s.note, s.retrieved, s.scored, s.kept]) : undefined,
    kept: f.kept,
    results: f.results.map((r) => [r.index, Math.round(r.probability * 1e5) / 1e5]),
  };
}

describe('WS search and ask: one decision on every surface', () => {
  let root: string;
  let crossDir: string;
  let biDir: string;
  let dir: string;
  let denseDir: string;
  let llm: StandIn;
  let server: RunningServer;
  let lib: PrecisionPipeline;
  let cross: CrossEncoder;
  let bi: BiEncoder;
  let url: string;
  let seq = 0;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-ws-decision-'));
    crossDir = await ensureGenerated('tiny-cross', { root: join(root, 'models') });
    biDir = await ensureGenerated('tiny-bi', { root: join(root, 'models') });
    bi = await BiEncoder.load(biDir);
    cross = await CrossEncoder.load(crossDir);
    const c = Collection.create(bi);
    await c.add(DEMO_CORPUS);
    dir = join(root, 'demo-index');
    await c.save(dir);
    const dense = Collection.create(bi, { keyword: false });
    await dense.add(DEMO_CORPUS.slice(0, 5));
    denseDir = join(root, 'dense-index');
    await dense.save(denseDir);
    lib = new PrecisionPipeline({ collection: await Collection.load(dir, bi), crossEncoder: cross });
    llm = await startStandIn();
    server = await startServer({ ...defaultConfig(), port: 0, threads: 1 }, {
      rerankers: [{ name: 'a', dir: crossDir }], embedders: [{ name: 'bi', dir: biDir }], collection: dir,
      gapLog: join(root, 'gaps.jsonl'), llm: { baseURL: llm.baseURL, model: 'ok', apiKey: 'server-key' },
    }, { log: () => undefined });
    url = `ws://127.0.0.1:${server.port}/ws`;
  });
  after(async () => {
    await server?.shutdown();
    await llm?.close();
    await cross?.close();
    await bi?.close();
    await rm(root, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown, base = server.url): Promise<Response> =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  /** One WS request's messages, once its final or error arrived. */
  async function wsRun(msg: Record<string, unknown>, encoding: 'json' | 'binary' = 'json', at = url): Promise<ServerMessage[]> {
    const c = await TestClient.open(at);
    try {
      const id = `r${++seq}`;
      c.send({ ...msg, id } as never, encoding);
      const got = await c.settled(id);
      assert.deepEqual(c.undecodable, []);
      return got.map((r) => r.msg);
    } finally {
      await c.close();
    }
  }

  it('library, CLI, HTTP /search and WS search (JSON and binary) give the same decision', async () => {
    // A threshold between the dense and the keyword fallback's best probabilities sends the decision down
    // the fallback path (answer_from_fallback); the probabilities are the generated models' noise, so the
    // threshold is read from the library rather than assumed.
    const probe = await lib.search('error CG-4711', { threshold: 1, fallback: 'keyword' });
    const [dense, kw] = probe.path.map((s) => s.bestProbability ?? 0);
    assert.ok(kw > dense, `the keyword fallback must find a better passage for the probe query (dense ${dense}, keyword ${kw})`);
    const between = Number(((dense + kw) / 2).toFixed(6));
    const inputs = [
      { threshold: 0, query: 'tell me about canines', fallback: 'keyword' },
      { threshold: 1, query: 'unrelated query about astrophysics', fallback: 'keyword' },
      { threshold: 1, query: 'what does error CG-4711 mean', fallback: 'off' },
      { threshold: between, query: 'error CG-4711', fallback: 'keyword' },
      { threshold: 1, query: 'what does error CG-4711 mean', fallback: 'hybrid', mode: 'keyword' },
    ] as const;
    const outcomes = new Set<string>();
    for (const input of inputs) {
      const { query, threshold, fallback } = input;
      const mode = 'mode' in input ? input.mode : undefined;
      const d = await lib.search(query, { threshold, fallback, ...(mode ? { mode } : {}) });
      outcomes.add(d.outcome);
      const expected = decisionCore(d);
      const what = `${query} (${mode ?? 'default mode'}, fallback ${fallback})`;

      const http = await post('/search', { query, threshold, fallback, ...(mode ? { mode } : {}) });
      assert.equal(http.status, 200);
      assert.deepEqual(decisionCore(await http.json() as GateDecision), expected, `HTTP, ${what}`);

      const c = await cli(['search', '--index', dir, '--cross-encoder', crossDir, '--query', query, '--threshold', String(threshold),
        '--fallback', fallback, ...(mode ? ['--mode', mode] : []), '--no-gap-log', '--json']);
      assert.equal(c.code, 0, c.stderr);
      assert.deepEqual(decisionCore(JSON.parse(c.stdout) as GateDecision), expected, `CLI, ${what}`);

      const msgs = await wsRun({ type: 'search', query, threshold, fallback, ...(mode ? { mode } : {}) });
      const final = msgs.at(-1)!;
      assert.equal(final.type, 'final', JSON.stringify(final));
      assert.deepEqual(finalCore(final as FinalMessage), wsCore(d), `WS JSON, ${what}`);
      // The candidates the WS client saw are the decision's candidates, in the same order.
      const hits = msgs.filter((m) => m.type === 'candidates').flatMap((m) => (m.type === 'candidates' ? m.hits : []));
      assert.deepEqual(hits.map((h) => [h.index, h.doc_id]), d.candidates.map((x) => [x.index, x.id]), `WS candidates, ${what}`);

      if (!mode) {
        // Binary frames: the same outcome and augment (the path travels in JSON frames only).
        const bin = (await wsRun({ type: 'search', query, threshold }, 'binary')).at(-1)!;
        const dBin = await lib.search(query, { threshold });
        assert.equal(bin.type, 'final');
        assert.deepEqual(finalCore(bin as FinalMessage, false), { ...(wsCore(dBin) as object), path: undefined }, `WS binary, ${query}`);
      }
    }
    // The inputs walk more than one way through the flow (with random-weight models the exact outcomes are noise).
    assert.deepEqual([...outcomes].sort(), ['answer', 'answer_from_fallback', 'no_relevant']);
  });

  it('mode keyword runs the keyword retriever first on HTTP and WS; a bad mode or fallback is refused naming the field', async () => {
    const http = await post('/search', { query: 'error CG-4711', mode: 'keyword', threshold: 0 });
    assert.equal(http.status, 200);
    const d = await http.json() as GateDecision;
    assert.equal(d.path[0].mode, 'keyword');
    assert.ok(d.candidates.every((c) => c.mode === 'keyword'));
    const ws = (await wsRun({ type: 'search', query: 'error CG-4711', mode: 'keyword', threshold: 0 })).at(-1) as FinalMessage;
    assert.equal(ws.path?.[0].mode, 'keyword');

    const bad = await post('/search', { query: 'q', mode: 'bm25' });
    assert.equal(bad.status, 422);
    const badBody = await bad.json() as { error: string; error_type: string };
    assert.equal(badBody.error_type, 'validation');
    assert.match(badBody.error, /mode/);
    assert.match(badBody.error, /dense|keyword|hybrid/);
    const badWs = (await wsRun({ type: 'search', query: 'q', fallback: 'vector' })).at(-1)!;
    assert.equal(badWs.type, 'error');
    assert.equal(badWs.type === 'error' && badWs.error_type, 'validation');
    assert.match(badWs.type === 'error' ? badWs.error : '', /^fallback must be one of keyword, hybrid, off; got 'vector'/);
  });

  it('a mode the served collection lacks is a 422 naming mode and the modes it supports (HTTP and WS)', async () => {
    const dense = await startServer({ ...defaultConfig(), port: 0, threads: 1 }, {
      rerankers: [{ name: 'a', dir: crossDir }], embedders: [{ name: 'bi', dir: biDir }], collection: denseDir, gapLog: null,
    }, { log: () => undefined });
    try {
      for (const mode of ['keyword', 'hybrid']) {
        const r = await post('/search', { query: 'dogs', mode }, dense.url);
        assert.equal(r.status, 422);
        const body = await r.json() as { error: string; error_type: string };
        assert.equal(body.error_type, 'validation');
        assert.match(body.error, new RegExp(`^mode is "${mode}"; the served retriever "collection" supports dense; pass mode "dense"`));
        const ws = (await wsRun({ type: 'search', query: 'dogs', mode }, 'json', `ws://127.0.0.1:${dense.port}/ws`)).at(-1)!;
        assert.equal(ws.type, 'error');
        assert.match(ws.type === 'error' ? ws.error : '', new RegExp(`^mode is "${mode}"; the served retriever "collection" supports dense`));
      }
      const ok = await post('/search', { query: 'dogs', mode: 'dense' }, dense.url);
      assert.equal(ok.status, 200);
    } finally {
      await dense.shutdown();
    }
  });

  it('WS ask streams candidates, partials, the decision, answer deltas and a final citing document ids', async () => {
    llm.override = null;
    const before = llm.requests.length;
    const msgs = await wsRun({ type: 'ask', query: 'tell me about canines', threshold: 0, top_k: 3 });
    const types = msgs.map((m) => m.type);
    assert.equal(types[0], 'accepted');
    assert.equal(types[1], 'candidates');
    const iDecision = types.indexOf('decision');
    assert.ok(types.slice(2, iDecision).length > 0 && types.slice(2, iDecision).every((t) => t === 'partial'), types.join(','));
    assert.ok(types.slice(iDecision + 1, -1).every((t) => t === 'delta'), types.join(','));
    assert.equal(types.at(-1), 'final');
    const decision = (msgs[iDecision] as unknown as { decision: GateDecision }).decision;
    assert.deepEqual(decisionCore(decision), decisionCore(await lib.search('tell me about canines', { threshold: 0, topK: 3 })));
    const deltas = msgs.filter((m) => m.type === 'delta').map((m) => (m.type === 'delta' ? m.text : ''));
    assert.ok(deltas.length >= 8);
    assert.equal(deltas.join(''), llm.answer);
    const final = msgs.at(-1) as FinalMessage;
    assert.equal(final.outcome, decision.outcome);
    const answer = final.answer as { text: string; generated: boolean; citations: { n: number; id: string }[] };
    assert.equal(answer.text, llm.answer);
    assert.equal(answer.generated, true);
    assert.deepEqual(answer.citations.map((c) => [c.n, c.id]), [[1, decision.kept[0].id], [2, decision.kept[1].id]]);
    assert.equal(llm.requests[before].messages[1].content, decision.prompt);
  });

  it('WS ask: an LLM failure mid-answer is an error message after the deltas; the socket and server go on', async () => {
    llm.override = 'cut';
    const c = await TestClient.open(url);
    try {
      c.send({ type: 'ask', id: 'cut', query: 'tell me about canines', threshold: 0 });
      const msgs = (await c.settled('cut')).map((r) => r.msg);
      const tail = msgs.filter((m) => m.type === 'decision' || m.type === 'delta' || m.type === 'error' || m.type === 'final').map((m) => m.type);
      assert.deepEqual(tail, ['decision', 'delta', 'delta', 'error']);
      const err = msgs.at(-1)!;
      assert.ok(err.type === 'error');
      assert.equal(err.error_type, 'llm_stream_cut');
      assert.match(err.error, /broke after \d+ characters/);
      const deltas = msgs.filter((m) => m.type === 'delta').map((m) => (m.type === 'delta' ? m.text : ''));
      assert.equal(err.partial_text, deltas.join(''));
      // The same socket serves the next request.
      llm.override = null;
      c.send({ type: 'search', id: 'after', query: 'dogs' });
      const next = await c.settled('after');
      assert.equal(next.at(-1)!.msg.type, 'final');
      assert.equal(c.closed, null);
    } finally {
      llm.override = null;
      await c.close();
    }
  });

  it('WS ask: a cancel mid-answer stops the stream; nothing more is sent for that id', async () => {
    llm.override = 'gated';
    const c = await TestClient.open(url);
    try {
      c.send({ type: 'ask', id: 'slow', query: 'tell me about canines', threshold: 0 });
      await c.until(() => c.of('slow').some((r) => r.msg.type === 'delta'), 'the first delta');
      c.send({ type: 'cancel', id: 'slow' });
      // Frames are handled in order: once the server answers a cancel for an unknown id, it has handled the first cancel.
      c.send({ type: 'cancel', id: 'probe' });
      await c.until(() => c.of('probe').some((r) => r.msg.type === 'error'), 'the probe cancel answer');
      llm.release();
      llm.override = null;
      c.send({ type: 'search', id: 'next', query: 'dogs' });
      await c.settled('next');
      assert.ok(!c.of('slow').some((r) => r.msg.type === 'final' || r.msg.type === 'error'), c.of('slow').map((r) => r.msg.type).join(','));
      assert.equal(c.closed, null);
    } finally {
      llm.override = null;
      await c.close();
    }
  });

  it('binary frames refuse what crossgate.fbs cannot carry instead of dropping it', async () => {
    const { encodeBinary } = await import('../src/wire/codec.js');
    assert.throws(() => encodeBinary({ type: 'search', id: 'b', query: 'q', mode: 'keyword' }), /search\.mode in a binary frame.*send the search as a JSON text frame/);
    assert.throws(() => encodeBinary({ type: 'search', id: 'b', query: 'q', fallback: 'off' }), /search\.fallback in a binary frame/);
    assert.throws(() => encodeBinary({ type: 'ask', id: 'b', query: 'q' }), /cannot encode ask as a binary frame/);
  });

  it('WS ask generates nothing for no_relevant: decision, then a final that says so', async () => {
    const before = llm.requests.length;
    const msgs = await wsRun({ type: 'ask', query: 'How do I reset my password?', threshold: 1, fallback: 'off' });
    assert.ok(!msgs.some((m) => m.type === 'delta'));
    const final = msgs.at(-1) as FinalMessage;
    assert.equal(final.type, 'final');
    assert.equal(final.outcome, 'no_relevant');
    assert.equal(final.augment, true);
    assert.equal((final.answer as { text: string }).text, NO_ANSWER_REPLY);
    assert.equal((final.answer as { generated: boolean }).generated, false);
    assert.equal(llm.requests.length, before, 'the LLM was not called');
  });
});
