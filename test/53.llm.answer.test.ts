// Generation through the official openai client against a real OpenAI-compatible stand-in on loopback:
// the answer streams token by token, citations map back to document ids, nothing is generated for
// no_relevant, and every LLM failure (timeout, 401, 429, 5xx, a cut or stalled stream) becomes one clear
// error event after whatever was already streamed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { answerEvents, citationsOf, NO_ANSWER_REPLY, NO_LLM_REASON, OpenAiCompatibleLlm, type AskEvent, type ErrorEvent, type FinalEvent, type LlmConfig } from '../src/llm/index.js';
import { Collection } from '../src/pipeline/collection.js';
import { DEMO_CORPUS } from '../src/pipeline/demo-corpus.js';
import { PrecisionPipeline, type GateDecision } from '../src/pipeline/precision.js';
import { SYSTEM_MESSAGE } from '../src/pipeline/prompt.js';
import { startStandIn, type StandIn } from './53.llm.stand-in.js';

async function collect(it: AsyncIterable<AskEvent>): Promise<AskEvent[]> {
  const out: AskEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

const deltas = (evs: AskEvent[]): string => evs.filter((e) => e.type === 'delta').map((e) => (e as { text: string }).text).join('');

describe('LLM answers', () => {
  let root: string;
  let cross: CrossEncoder;
  let bi: BiEncoder;
  let llmServer: StandIn;
  let answered: GateDecision;
  let refused: GateDecision;

  const llm = (model: string, extra: Partial<LlmConfig> = {}): OpenAiCompatibleLlm => new OpenAiCompatibleLlm({ baseURL: llmServer.baseURL, model, apiKey: 'test-key', ...extra });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-llm-'));
    cross = await CrossEncoder.load(await ensureGenerated('tiny-cross', { root: join(root, 'models') }));
    bi = await BiEncoder.load(await ensureGenerated('tiny-bi', { root: join(root, 'models') }));
    const collection = Collection.create(bi);
    await collection.add(DEMO_CORPUS);
    const p = new PrecisionPipeline({ collection, crossEncoder: cross, topK: 3 });
    answered = await p.search('tell me about canines', { threshold: 0 });
    refused = await p.search('tell me about canines', { threshold: 1 });
    assert.equal(answered.kept.length, 3);
    assert.equal(refused.outcome, 'no_relevant');
    llmServer = await startStandIn();
  });
  after(async () => {
    await llmServer?.close();
    await cross?.close();
    await bi?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('streams the answer token by token and maps [n] citations back to the kept passages', async () => {
    const before = llmServer.requests.length;
    const evs = await collect(answerEvents(answered, llm('ok')));
    assert.deepEqual(evs[0], { type: 'decision', decision: answered });
    const n = evs.filter((e) => e.type === 'delta').length;
    assert.ok(n >= 8, `one delta per token (${n})`);
    assert.equal(deltas(evs), llmServer.answer);
    const final = evs.at(-1) as FinalEvent;
    assert.equal(final.type, 'final');
    assert.equal(final.generated, true);
    assert.equal(final.text, llmServer.answer);
    assert.equal(final.finishReason, 'stop');
    assert.equal(final.model, 'ok');
    assert.deepEqual(final.citations.map((c) => [c.n, c.id]), [[1, answered.kept[0].id], [2, answered.kept[1].id]]);
    assert.equal(final.citations[0].probability, answered.kept[0].probability);
    assert.deepEqual(final.unknownCitations, []);
    // What reached the endpoint: the system rule and the grounded prompt, streamed, with the key.
    const req = llmServer.requests[before];
    assert.equal(llmServer.requests.length, before + 1);
    assert.equal(req.stream, true);
    assert.equal(req.authorization, 'Bearer test-key');
    assert.deepEqual(req.messages, [{ role: 'system', content: SYSTEM_MESSAGE }, { role: 'user', content: answered.prompt }]);
    assert.match(answered.prompt!, /^\[1\] \(/m);
  });

  it('hands each token on as it arrives, before the rest of the answer exists', async () => {
    const it = answerEvents(answered, llm('gated'))[Symbol.asyncIterator]();
    assert.equal((await it.next()).value!.type, 'decision');
    const first = await it.next();
    assert.equal(first.value!.type, 'delta');
    assert.equal((first.value as { text: string }).text, 'Dogs ');
    llmServer.release();
    const rest: AskEvent[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    assert.equal('Dogs ' + deltas(rest), llmServer.answer);
    assert.equal(rest.at(-1)!.type, 'final');
  });

  it('generates nothing for no_relevant and says so', async () => {
    const before = llmServer.requests.length;
    const evs = await collect(answerEvents(refused, llm('ok')));
    assert.deepEqual(evs.map((e) => e.type), ['decision', 'final']);
    const final = evs[1] as FinalEvent;
    assert.equal(final.generated, false);
    assert.equal(final.text, NO_ANSWER_REPLY);
    assert.equal(final.prompt, null);
    assert.equal(llmServer.requests.length, before, 'the LLM was not called');
  });

  it('without an LLM returns the decision and the prompt', async () => {
    const evs = await collect(answerEvents(answered, null));
    assert.deepEqual(evs.map((e) => e.type), ['decision', 'final']);
    const final = evs[1] as FinalEvent;
    assert.equal(final.generated, false);
    assert.equal(final.prompt, answered.prompt);
    assert.equal(final.reason, NO_LLM_REASON);
  });

  async function failure(model: string, extra: Partial<LlmConfig> = {}): Promise<{ evs: AskEvent[]; err: ErrorEvent }> {
    const evs = await collect(answerEvents(answered, llm(model, extra)));
    const err = evs.at(-1) as ErrorEvent;
    assert.equal(err.type, 'error', `${model}: the last event is an error, got ${JSON.stringify(evs.at(-1)).slice(0, 200)}`);
    assert.ok(!evs.some((e) => e.type === 'final'), 'no final after an error');
    assert.equal(err.partialText, deltas(evs), 'partialText is what was streamed');
    return { evs, err };
  }

  it('a stream cut mid-answer is an llm_stream_cut error after the tokens already streamed', async () => {
    const { evs, err } = await failure('cut');
    assert.equal(evs.filter((e) => e.type === 'delta').length, 2);
    assert.equal(err.error.error_type, 'llm_stream_cut');
    assert.match(err.error.message, /the LLM stream from http:\/\/127\.0\.0\.1:\d+\/v1 broke after \d+ characters .*; the answer is incomplete/);
    const ended = await failure('no-finish');
    assert.equal(ended.err.error.error_type, 'llm_stream_cut');
    assert.match(ended.err.error.message, /ended after \d+ characters without a finish reason/);
    assert.equal(ended.err.partialText, llmServer.answer);
  });

  it('a stalled stream and an endpoint that never answers are llm_timeout', async () => {
    const stalled = await failure('stall', { idleTimeoutMs: 300 });
    assert.equal(stalled.err.error.error_type, 'llm_timeout');
    assert.equal(stalled.err.partialText, 'Dogs ');
    assert.match(stalled.err.error.message, /sent no token for 300 ms after 5 characters/);
    const slow = await failure('slow-headers', { timeoutMs: 300 });
    assert.equal(slow.err.error.error_type, 'llm_timeout');
    assert.match(slow.err.error.message, /did not answer within 300 ms; check that it is running, or raise --llm-timeout/);
    assert.equal(slow.evs.filter((e) => e.type === 'delta').length, 0);
  });

  it('401, 429, 5xx, 404 and an error inside the stream each get their kind, status and fix', async () => {
    const auth = await failure('auth');
    assert.deepEqual([auth.err.error.error_type, auth.err.error.status], ['llm_auth', 401]);
    assert.match(auth.err.error.message, /refused the request with 401 .*Incorrect API key.*; set CROSSGATE_LLM_API_KEY or OPENAI_API_KEY/);
    const good = await collect(answerEvents(answered, llm('auth', { apiKey: llmServer.key })));
    assert.equal(good.at(-1)!.type, 'final', 'the right key is accepted');
    const limited = await failure('rate-limited');
    assert.deepEqual([limited.err.error.error_type, limited.err.error.status], ['llm_rate_limited', 429]);
    assert.match(limited.err.error.message, /rate limiting \(429, retry after 7 s\)/);
    const broken = await failure('broken');
    assert.deepEqual([broken.err.error.error_type, broken.err.error.status], ['llm_unavailable', 500]);
    assert.match(broken.err.error.message, /failed with 500 .*model crashed/);
    const missing = await failure('missing');
    assert.deepEqual([missing.err.error.error_type, missing.err.error.status], ['llm_request', 404]);
    assert.match(missing.err.error.message, /check --llm-model and --llm-base-url/);
    const inStream = await failure('error-in-stream');
    assert.equal(inStream.err.error.error_type, 'llm_error');
    assert.equal(inStream.err.partialText, 'Dogs ');
    assert.match(inStream.err.error.message, /context length exceeded/);
  });

  it('nothing listening is llm_connection', async () => {
    const port = await new Promise<number>((r) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => r(p));
      });
    });
    const evs = await collect(answerEvents(answered, new OpenAiCompatibleLlm({ baseURL: `http://127.0.0.1:${port}/v1`, model: 'x', apiKey: 'k' })));
    const err = evs.at(-1) as ErrorEvent;
    assert.equal(err.error.error_type, 'llm_connection');
    assert.match(err.error.message, /cannot reach the LLM at http:\/\/127\.0\.0\.1:\d+\/v1 \(model x\): .*; check --llm-base-url/);
  });

  it('parses [1, 2], [1-3] and [1][2] citations and lists numbers that match no passage', () => {
    const c = citationsOf('A [2, 1]. B [1-3]. C [9]. D [2][3].', answered);
    assert.deepEqual(c.citations.map((x) => x.n), [2, 1, 3]);
    assert.deepEqual(c.citations.map((x) => x.id), [answered.kept[1].id, answered.kept[0].id, answered.kept[2].id]);
    assert.deepEqual(c.unknown, [9]);
    assert.throws(() => new OpenAiCompatibleLlm({ baseURL: 'localhost:8080', model: 'm' }), /llm base URL is "localhost:8080"; expected an http\(s\) URL/);
    assert.throws(() => new OpenAiCompatibleLlm({ baseURL: 'http://x/v1', model: ' ' }), /llm model is empty/);
  });
});
