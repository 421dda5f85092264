// The HTTP API against a real server on 127.0.0.1:0: every route in its TEI / Cohere-Jina / OpenAI shape,
// results equal to the library (CrossEncoder.score, BiEncoder.embed, Tokenizer, PrecisionPipeline) on the
// same inputs, two rerankers selected by `model`, /info, /health and the metrics traffic leaves behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { Collection } from '../src/pipeline/collection.js';
import { DEMO_CORPUS } from '../src/pipeline/demo-corpus.js';
import { PrecisionPipeline } from '../src/pipeline/precision.js';
import { CONFIG_FIELDS, defaultConfig, type ServerConfig } from '../src/server/limits.js';
import { startServer, type RunningServer } from '../src/server/server.js';

const QUERY = 'how do I reset my password';
const PASSAGES = [
  "Click on 'Forgot Password' on the login screen",
  'Use a strong password with numbers and symbols',
  'The cafeteria serves lunch from noon until two',
  'Contact support if your account is locked',
  'Bananas ripen faster in a paper bag',
];
const LONG = 'the quick brown fox jumps over the lazy dog and keeps running far away '.repeat(20);

function config(over: Partial<ServerConfig> = {}): ServerConfig {
  return { ...defaultConfig(), port: 0, threads: 1, ...over };
}

/** Float32 results pass through JSON as doubles; batching can change the last bits of a score. */
function close(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}

async function post(url: string, body: unknown): Promise<{ status: number; headers: Headers; json: any }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, headers: r.headers, json: await r.json() };
}

describe('HTTP API', () => {
  let root: string;
  let server: RunningServer;
  let base: string;
  let crossA: CrossEncoder;
  let crossB: CrossEncoder;
  let bi: BiEncoder;
  let dirs: { a: string; b: string; bi: string };
  let collection: Collection;
  const cfg = config();

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-http-'));
    dirs = { a: await ensureGenerated('tiny-cross'), b: await ensureGenerated('tiny-cross-2label'), bi: await ensureGenerated('tiny-bi') };
    [crossA, crossB, bi] = await Promise.all([
      CrossEncoder.load(dirs.a, { threads: 1 }), CrossEncoder.load(dirs.b, { threads: 1 }), BiEncoder.load(dirs.bi, { threads: 1 }),
    ]);
    collection = Collection.create(bi);
    await collection.add(DEMO_CORPUS);
    await collection.save(join(root, 'coll'));
    server = await startServer(cfg, {
      rerankers: [{ name: 'a', dir: dirs.a }, { name: 'b', dir: dirs.b }],
      embedders: [{ name: 'bi', dir: dirs.bi }],
      collection: join(root, 'coll'),
    }, { log: () => undefined });
    base = server.url;
  });

  after(async () => {
    await server?.shutdown('test done');
    await Promise.all([crossA?.close(), crossB?.close(), bi?.close()]);
    await rm(root, { recursive: true, force: true });
  });

  it('POST /rerank (TEI): [{index, score}] sorted by score, scores = CrossEncoder.score probabilities', async () => {
    const expected = await crossA.score(QUERY, PASSAGES);
    const r = await post(`${base}/rerank`, { query: QUERY, texts: PASSAGES });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.equal(r.json.length, PASSAGES.length);
    assert.deepEqual(new Set(r.json.map((x: any) => x.index)), new Set(PASSAGES.map((_, i) => i)));
    for (let i = 0; i < r.json.length; i++) {
      const row = r.json[i];
      assert.deepEqual(Object.keys(row).sort(), ['index', 'score'], 'no text unless return_text');
      close(row.score, expected.probabilities[row.index], `texts[${row.index}]`);
      if (i > 0) assert.ok(r.json[i - 1].score >= row.score, 'sorted by score, highest first');
    }
    for (const h of ['x-compute-time', 'x-tokenization-time', 'x-queue-time', 'x-inference-time', 'x-compute-tokens']) {
      assert.match(r.headers.get(h) ?? '', /^\d+$/, `${h} is whole milliseconds, as in TEI`);
    }
    assert.equal(Number(r.headers.get('x-compute-tokens')), expected.stats.realTokens);
  });

  it('POST /rerank: raw_scores gives logits, return_text echoes the passages', async () => {
    const expected = await crossA.score(QUERY, PASSAGES);
    const r = await post(`${base}/rerank`, { query: QUERY, texts: PASSAGES, raw_scores: true, return_text: true });
    assert.equal(r.status, 200);
    for (const row of r.json) {
      close(row.score, expected.logits[row.index], `logit of texts[${row.index}]`);
      assert.equal(row.text, PASSAGES[row.index]);
    }
    for (let i = 1; i < r.json.length; i++) assert.ok(r.json[i - 1].score >= r.json[i].score);
  });

  it('POST /rerank: truncation_direction cuts the side the client asks for', async () => {
    const texts = [LONG + 'password reset', 'password reset ' + LONG];
    const right = await crossA.score(QUERY, texts, { side: 'right' });
    const left = await crossA.score(QUERY, texts, { side: 'left' });
    assert.notEqual(right.probabilities[0], left.probabilities[0], 'the two sides really differ on this input');
    for (const [dir, exp] of [['right', right], ['Left', left]] as const) {
      const r = await post(`${base}/rerank`, { query: QUERY, texts, truncation_direction: dir, truncate: true });
      assert.equal(r.status, 200);
      for (const row of r.json) close(row.score, exp.probabilities[row.index], `${dir} texts[${row.index}]`);
    }
  });

  it('two rerankers at once: `model` selects, each result equals its own model', async () => {
    const [ea, eb] = await Promise.all([crossA.score(QUERY, PASSAGES), crossB.score(QUERY, PASSAGES)]);
    const calls = await Promise.all(Array.from({ length: 6 }, (_, i) => post(`${base}/rerank`, { query: QUERY, texts: PASSAGES, model: i % 2 ? 'b' : 'a' })));
    calls.forEach((r, i) => {
      assert.equal(r.status, 200);
      const exp = i % 2 ? eb : ea;
      for (const row of r.json) close(row.score, exp.probabilities[row.index], `model ${i % 2 ? 'b' : 'a'} texts[${row.index}]`);
    });
    const noModel = await post(`${base}/rerank`, { query: QUERY, texts: PASSAGES, model: null });
    for (const row of noModel.json) close(row.score, ea.probabilities[row.index], 'model null = the first reranker');
    const bad = await post(`${base}/rerank`, { query: QUERY, texts: PASSAGES, model: 'rerank-v3.5' });
    assert.equal(bad.status, 422);
    assert.equal(bad.json.error_type, 'validation');
    assert.match(bad.json.error, /"rerank-v3\.5".*"a", "b"/);
  });

  it('POST /v2/rerank (Cohere): {id, results:[{index, relevance_score}], meta}; strings and {text}; top_n', async () => {
    const expected = await crossB.score(QUERY, PASSAGES);
    const documents = PASSAGES.map((p, i) => (i % 2 ? { text: p } : p));
    const r = await post(`${base}/v2/rerank`, { model: 'b', query: QUERY, documents, top_n: 3 });
    assert.equal(r.status, 200);
    assert.match(r.json.id, /^[0-9a-f-]{36}$/);
    assert.equal(r.json.results.length, 3);
    const order = [...expected.probabilities.keys()].sort((x, y) => expected.probabilities[y] - expected.probabilities[x]);
    assert.deepEqual(r.json.results.map((x: any) => x.index), order.slice(0, 3), 'the best three, best first');
    for (const x of r.json.results) {
      assert.deepEqual(Object.keys(x).sort(), ['index', 'relevance_score'], 'return_documents defaults to false on /v2');
      close(x.relevance_score, expected.probabilities[x.index], `documents[${x.index}]`);
    }
    assert.deepEqual(r.json.meta.api_version, { version: '2' });
    assert.deepEqual(r.json.meta.billed_units, { search_units: 1 });
    assert.equal(r.json.meta.tokens.input_tokens, expected.stats.realTokens);
    assert.equal(r.json.model, 'b');
    assert.equal(r.json.usage.total_tokens, expected.stats.realTokens);
  });

  it('POST /v1/rerank (Cohere v1 / Jina): same shape, api_version "1", no documents unless return_documents=true (Cohere\'s v1 default)', async () => {
    const expected = await crossA.score(QUERY, PASSAGES);
    const off = await post(`${base}/v1/rerank`, { model: 'a', query: QUERY, documents: PASSAGES });
    assert.equal(off.status, 200);
    assert.equal(off.json.meta.api_version.version, '1');
    assert.ok(off.json.results.every((x: any) => !('document' in x)));
    const r = await post(`${base}/v1/rerank`, { query: QUERY, documents: PASSAGES, return_documents: true });
    assert.equal(r.json.results.length, PASSAGES.length);
    for (const x of r.json.results) {
      assert.deepEqual(x.document, { text: PASSAGES[x.index] });
      close(x.relevance_score, expected.probabilities[x.index], `documents[${x.index}]`);
    }
  });

  it('max_tokens_per_doc cuts each document to exactly that many tokens and never the query, even a long query (Cohere)', async () => {
    const tok = crossA.tokenizer;
    const special = tok.specialTokenCount(true);
    const tokensOf = (t: string): number => tok.encode(t, null, { maxLength: Infinity }).ids.length - tok.specialTokenCount(false);
    const SHORT_DOC = 'reset it';
    const cases = [
      { query: QUERY, cap: 6 },
      // ~40 query tokens against a cap of 8: longest_first would split the budget and cut the query.
      { query: 'what is the interest rate of a bank loan for a small river side business that wants to grow in spring and summer while keeping its cash flow steady', cap: 8 },
    ];
    for (const { query, cap } of cases) {
      const q = tokensOf(query);
      assert.ok(tokensOf(LONG) > cap && tokensOf(SHORT_DOC) < cap);
      // The reference: the whole query, then the document's first `cap` tokens.
      const pair = tok.encode(query, LONG, { maxLength: Infinity });
      const firstSep = pair.ids.indexOf(pair.ids.at(-1)!);
      const keptIds = [...pair.ids.slice(0, firstSep + 1 + cap), pair.ids.at(-1)!];
      const cut = tok.encode(query, LONG, { maxLength: q + cap + special, truncation: 'only_second' });
      assert.deepEqual(cut.ids, keptIds, 'only_second keeps the query and the first cap document tokens');
      const expected = await crossA.score(query, [LONG, SHORT_DOC], { maxLength: q + cap + special, truncation: 'only_second' });
      const r = await post(`${base}/v2/rerank`, { model: 'a', query, documents: [LONG, SHORT_DOC], max_tokens_per_doc: cap });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      for (const x of r.json.results) close(x.relevance_score, expected.probabilities[x.index], `documents[${x.index}] with cap ${cap}`);
      // A document under the cap is scored whole.
      close(r.json.results.find((x: any) => x.index === 1).relevance_score, (await crossA.score(query, [SHORT_DOC])).probabilities[0], 'short document');
      assert.equal(r.json.meta.tokens.input_tokens, (q + cap + special) + (q + tokensOf(SHORT_DOC) + special));
    }
    // The pair limit (tiny-cross: 128 tokens) still applies, and cuts the document, not the query.
    const longQuery = `${'bank loan interest rate for a river side business '.repeat(13)}in spring`;
    const q = tokensOf(longQuery);
    const limit = crossA.spec.maxLength;
    assert.ok(q + 8 + special > limit && q + special < limit, `query of ${q} tokens`);
    const expected = await crossA.score(longQuery, [LONG], { maxLength: limit, truncation: 'only_second' });
    const r = await post(`${base}/v2/rerank`, { model: 'a', query: longQuery, documents: [LONG], max_tokens_per_doc: 8 });
    close(r.json.results[0].relevance_score, expected.probabilities[0], 'pair limit');
    assert.equal(r.json.meta.tokens.input_tokens, limit);
  });

  it('POST /embed (TEI): number[][] equal to BiEncoder.embed; a single string is one input', async () => {
    const texts = ['first text to embed', 'a second, longer text to embed with more words'];
    const expected = await bi.embed(texts);
    const r = await post(`${base}/embed`, { inputs: texts });
    assert.equal(r.status, 200);
    assert.equal(r.json.length, 2);
    r.json.forEach((v: number[], i: number) => {
      assert.equal(v.length, bi.dim);
      v.forEach((x, j) => close(x, expected[i][j], `inputs[${i}][${j}]`));
      close(Math.hypot(...v), 1, 'normalize defaults to true');
    });
    const one = await post(`${base}/embed`, { inputs: texts[0] });
    assert.equal(one.json.length, 1);
    one.json[0].forEach((x: number, j: number) => close(x, expected[0][j], `single[${j}]`));
    assert.match(one.headers.get('x-inference-time') ?? '', /^\d+$/);
  });

  it('POST /v1/embeddings (OpenAI): list of {object, index, embedding}, model, usage; base64 = float32 LE', async () => {
    const input = ['hello world', 'embeddings for an OpenAI client'];
    const expected = await bi.embedDetailed(input);
    const r = await post(`${base}/v1/embeddings`, { input, model: 'bi' });
    assert.equal(r.status, 200);
    assert.equal(r.json.object, 'list');
    assert.equal(r.json.model, 'bi');
    assert.deepEqual(r.json.usage, { prompt_tokens: expected.stats.realTokens, total_tokens: expected.stats.realTokens });
    r.json.data.forEach((d: any, i: number) => {
      assert.deepEqual(Object.keys(d).sort(), ['embedding', 'index', 'object']);
      assert.equal(d.object, 'embedding');
      assert.equal(d.index, i);
      d.embedding.forEach((x: number, j: number) => close(x, expected.vectors[i][j], `input[${i}][${j}]`));
    });
    const b64 = await post(`${base}/v1/embeddings`, { input: input[1], encoding_format: 'base64' });
    const buf = Buffer.from(b64.json.data[0].embedding, 'base64');
    assert.equal(buf.length, bi.dim * 4);
    for (let j = 0; j < bi.dim; j++) close(buf.readFloatLE(j * 4), expected.vectors[1][j], `base64[${j}]`);
    const dims = await post(`${base}/v1/embeddings`, { input: 'x', dimensions: bi.dim + 1 });
    assert.equal(dims.status, 400, 'OpenAI answers a bad parameter with 400');
    assert.equal(dims.json.error.param, 'dimensions');
    assert.match(dims.json.error.message, new RegExp(`dimensions is ${bi.dim + 1}.*${bi.dim}`));
  });

  it('POST /tokenize (TEI): [[{id, text, special, start, stop}]] with the tokenizer\'s ids and byte offsets', async () => {
    const inputs = ['Hello tokenization world', 'Grüße aus Köln, 42 times!'];
    const r = await post(`${base}/tokenize`, { inputs });
    assert.equal(r.status, 200);
    assert.equal(r.json.length, 2);
    inputs.forEach((text, i) => {
      const ids = crossA.tokenizer.encode(text, null, { maxLength: Infinity }).ids;
      const toks = r.json[i];
      assert.deepEqual(toks.map((t: any) => t.id), ids);
      assert.equal(toks[0].special, true);
      assert.equal(toks.at(-1).special, true);
      const bytes = Buffer.from(text);
      for (const t of toks.slice(1, -1)) {
        assert.equal(t.special, false);
        assert.ok(Number.isInteger(t.start) && Number.isInteger(t.stop), `offsets for ${t.text}`);
        const piece = bytes.subarray(t.start, t.stop).toString().normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
        assert.equal(piece, t.text.replace(/^##/, ''), `bytes ${t.start}..${t.stop} of ${JSON.stringify(text)}`);
      }
    });
    const bare = await post(`${base}/tokenize`, { inputs: inputs[0], add_special_tokens: false });
    assert.deepEqual(bare.json[0].map((t: any) => t.id), r.json[0].slice(1, -1).map((t: any) => t.id));
  });

  it('POST /search: the GateDecision of PrecisionPipeline.search over the served collection', async () => {
    const pipeline = new PrecisionPipeline({ collection, crossEncoder: crossA });
    const q = 'which animals hunt mice';
    const expected = await pipeline.search(q, { topK: 6, threshold: 0.5 });
    const r = await post(`${base}/search`, { query: q, top_k: 6, threshold: 0.5 });
    assert.equal(r.status, 200);
    const d = r.json;
    assert.equal(d.query, q);
    assert.equal(d.threshold, 0.5);
    assert.equal(d.outcome, expected.outcome);
    assert.deepEqual(d.candidates.map((c: any) => c.id), expected.candidates.map((c) => c.id));
    assert.deepEqual(d.kept.map((c: any) => c.id), expected.kept.map((c) => c.id));
    d.candidates.forEach((c: any, i: number) => {
      close(c.probability, expected.candidates[i].probability, `candidates[${i}]`);
      close(c.retrievalScore, expected.candidates[i].retrievalScore!, `candidates[${i}].retrievalScore`);
    });
    assert.equal(d.prompt, expected.prompt);
    assert.ok(typeof d.timings.retrieveMs === 'number');
  });

  it('GET /health, /ready and /info: models, execution providers and every limit with its value', async () => {
    const h = await (await fetch(`${base}/health`)).json();
    assert.deepEqual(h, { status: 'ok', phase: 'ready' });
    const ready = await fetch(`${base}/ready`);
    assert.equal(ready.status, 200);
    const info = await (await fetch(`${base}/info`)).json() as any;
    assert.deepEqual(info.models.map((m: any) => [m.name, m.kind]), [['a', 'cross-encoder'], ['b', 'cross-encoder'], ['bi', 'bi-encoder']]);
    assert.deepEqual(info.execution_providers, ['cpu']);
    assert.equal(info.models[1].num_labels, 2);
    assert.equal(info.models[2].dim, bi.dim);
    assert.deepEqual(info.collection, { documents: DEMO_CORPUS.length, dim: bi.dim, embedder: 'bi' });
    assert.deepEqual(Object.keys(info.limits), CONFIG_FIELDS.map((f) => f.name));
    for (const f of CONFIG_FIELDS) {
      assert.deepEqual(info.limits[f.name].value, cfg[f.key], f.name);
      assert.equal(info.limits[f.name].env, f.env);
      assert.ok(info.limits[f.name].reason.length > 10);
    }
  });

  it('GET /metrics after traffic: requests by route/status, batches, padding, stages, gate outcomes, queue', async () => {
    await post(`${base}/rerank`, { query: QUERY, texts: PASSAGES });
    await post(`${base}/search`, { query: 'dogs and wolves' });
    const r = await fetch(`${base}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    const value = (series: string, missing?: number): number => {
      const line = text.split('\n').find((l) => l.startsWith(series + ' '));
      if (!line && missing !== undefined) return missing;
      assert.ok(line, `${series} is in /metrics`);
      return Number(line.slice(series.length + 1));
    };
    assert.ok(value('crossgate_requests_total{route="/rerank",status="200"}') >= 2);
    assert.ok(value('crossgate_requests_total{route="/search",status="200"}') >= 1);
    assert.ok(value('crossgate_requests_total{route="/rerank",status="422"}') >= 1);
    assert.ok(value('crossgate_batch_size_count{model="a"}') >= 1);
    assert.ok(value('crossgate_batch_size_sum{model="a"}') >= PASSAGES.length);
    assert.ok(value('crossgate_batch_tokens_count{model="b"}') >= 1);
    assert.ok(value('crossgate_batch_padding_waste_ratio_count{model="a"}') >= 1);
    assert.ok(value('crossgate_tokens_total{model="a",kind="padded"}') >= value('crossgate_tokens_total{model="a",kind="real"}'));
    assert.ok(value('crossgate_stage_duration_seconds_count{model="a",stage="queue"}') >= 1);
    assert.ok(value('crossgate_stage_duration_seconds_count{model="bi",stage="inference"}') >= 1);
    assert.ok(value('crossgate_gate_outcomes_total{outcome="answer"}', 0) + value('crossgate_gate_outcomes_total{outcome="no_relevant"}', 0) >= 2);
    assert.equal(value('crossgate_queue_size{model="a"}'), 0);
    assert.equal(value('crossgate_queue_tokens{model="bi"}'), 0);
    assert.equal(value('crossgate_requests_in_flight'), 0);
    assert.ok(value('crossgate_request_duration_seconds_count{route="/embed"}') >= 1);
  });
});
