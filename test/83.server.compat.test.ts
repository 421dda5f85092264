// TEI / Cohere / OpenAI compatibility details a client notices, against a real server on 127.0.0.1:0:
// TEI POST / by body, /predict (pair, batch, raw_scores, truncate), /similarity; Cohere /v1/embed and
// /v2/embed (types, truncate), v1/v2 rerank meta and defaults, rank_fields; each family's error shape and
// status; /metrics gauges sampled at the first scrape. Values are checked against the library.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { cosine, l2normalize } from '../src/index/vector-math.js';
import { defaultConfig } from '../src/server/limits.js';
import { startServer, type RunningServer } from '../src/server/server.js';

const Q = 'how do I reset my password';
const DOCS = ["Click on 'Forgot Password' on the login screen", 'The cafeteria serves lunch from noon until two'];
const LONG = 'the quick brown fox jumps over the lazy dog '.repeat(40);

function close(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}
async function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

describe('API compatibility', () => {
  let server: RunningServer;
  let base: string;
  let cross: CrossEncoder;
  let bi: BiEncoder;
  let firstScrape: string;

  before(async () => {
    const [c, b] = [await ensureGenerated('tiny-cross'), await ensureGenerated('tiny-bi')];
    [cross, bi] = await Promise.all([CrossEncoder.load(c, { threads: 1 }), BiEncoder.load(b, { threads: 1 })]);
    server = await startServer({ ...defaultConfig(), port: 0, host: '127.0.0.1', threads: 1, maxInputTokens: 64, autoTruncate: false },
      { rerankers: [{ name: 'rr', dir: c }], embedders: [{ name: 'bi', dir: b }] }, { log: () => undefined });
    base = server.url;
    firstScrape = await (await fetch(`${base}/metrics`)).text();
  });
  after(async () => {
    await server?.shutdown('test done');
    await Promise.all([cross?.close(), bi?.close()]);
  });

  const vec = async (texts: string[]): Promise<Float32Array[]> => (await bi.embed(texts)).map((v) => (bi.normalizes ? v : l2normalize(v)));

  it('/metrics: every gauge without labels has a sample at the first scrape', () => {
    for (const g of ['crossgate_requests_in_flight', 'crossgate_ws_connections']) assert.match(firstScrape, new RegExp(`^${g} 0$`, 'm'), g);
  });

  it('POST /predict: one pair -> [{label, score}], a batch -> one list per pair; raw_scores = logit', async () => {
    const s = await cross.score(Q, DOCS);
    const one = await post(`${base}/predict`, { inputs: [Q, DOCS[1]] });
    assert.equal(one.status, 200);
    assert.deepEqual(one.json.map((p: any) => p.label), ['LABEL_0']);
    close(one.json[0].score, s.probabilities[1], 'pair');
    const batch = await post(`${base}/predict`, { inputs: [[Q, DOCS[0]], [Q, DOCS[1]], [DOCS[0], Q]], raw_scores: true });
    assert.equal(batch.json.length, 3);
    close(batch.json[0][0].score, s.logits[0], 'batch 0');
    close(batch.json[1][0].score, s.logits[1], 'batch 1');
    close(batch.json[2][0].score, (await cross.score(DOCS[0], [Q])).logits[0], 'another first text');
  });

  it('POST /predict: a single text is refused naming the fix; truncate false + too long is 422, truncate true scores it', async () => {
    const single = await post(`${base}/predict`, { inputs: 'just one text' });
    assert.equal(single.status, 422);
    assert.match(single.json.error, /single text; crossgate's cross-encoders score pairs: send \[query, text\]/);
    const long = await post(`${base}/predict`, { inputs: [Q, LONG] });
    assert.equal(long.status, 422);
    assert.equal(long.json.error_type, 'input_too_long');
    assert.equal((await post(`${base}/predict`, { inputs: [Q, LONG], truncate: true })).status, 200);
  });

  it('POST /similarity: cosine of source_sentence to each sentence', async () => {
    const v = await vec([DOCS[0], DOCS[1], Q]);
    const r = await post(`${base}/similarity`, { inputs: { source_sentence: DOCS[0], sentences: [DOCS[1], Q] } });
    assert.equal(r.status, 200);
    close(r.json[0], cosine(v[0], v[1]), 'sentence 0');
    close(r.json[1], cosine(v[0], v[2]), 'sentence 1');
  });

  it('POST / routes by body: texts embed, {query, texts} rerank, pairs predict, {source_sentence} similarity', async () => {
    const emb = await post(`${base}/`, { inputs: DOCS });
    const v = await vec(DOCS);
    for (let j = 0; j < v[0].length; j++) close(emb.json[1][j], v[1][j], `embed[1][${j}]`);
    const rr = await post(`${base}/`, { query: Q, texts: DOCS });
    assert.deepEqual(Object.keys(rr.json[0]).sort(), ['index', 'score']);
    const pr = await post(`${base}/`, { inputs: [[Q, DOCS[0]]] });
    assert.equal(pr.json[0][0].label, 'LABEL_0');
    const si = await post(`${base}/`, { inputs: { source_sentence: Q, sentences: DOCS } });
    assert.equal(si.json.length, 2);
  });

  it('Cohere /v1/embed: embeddings_floats by default, embeddings_by_type with embedding_types; truncate NONE refuses, END cuts', async () => {
    const v = await vec(DOCS);
    const plain = await post(`${base}/v1/embed`, { texts: DOCS, input_type: 'search_document' });
    assert.equal(plain.json.response_type, 'embeddings_floats');
    assert.equal(plain.json.meta.api_version.version, '1');
    assert.deepEqual(plain.json.texts, DOCS);
    close(plain.json.embeddings[0][0], v[0][0], 'float');
    const typed = await post(`${base}/v1/embed`, { texts: DOCS, embedding_types: ['uint8', 'binary', 'base64'] });
    assert.equal(typed.json.response_type, 'embeddings_by_type');
    assert.deepEqual(typed.json.embeddings.uint8[1], Array.from(v[1], (x) => Math.max(0, Math.min(255, Math.round((x + 1) * 127.5)))));
    const bits = (u: Float32Array): number[] => Array.from({ length: u.length / 8 }, (_, i) => [...u.slice(i * 8, i * 8 + 8)].reduce((b, x) => (b << 1) | (x > 0 ? 1 : 0), 0) - 128);
    assert.deepEqual(typed.json.embeddings.binary[0], bits(v[0]));
    const f = new Float32Array(Uint8Array.from(Buffer.from(typed.json.embeddings.base64[0], 'base64')).buffer);
    close(f[3], v[0][3], 'base64');
    const none = await post(`${base}/v1/embed`, { texts: [LONG], truncate: 'NONE' });
    assert.equal(none.status, 400, 'Cohere answers a refused input with 400');
    assert.deepEqual(Object.keys(none.json).sort(), ['id', 'message']);
    assert.match(none.json.message, /texts\[0\] is \d+ tokens/);
    assert.equal((await post(`${base}/v2/embed`, { texts: [LONG], truncate: 'END', model: 'bi' })).status, 200);
  });

  it('Cohere /v2/embed: floats by type by default, meta version 2, unknown model 404, output_dimension checked', async () => {
    const r = await post(`${base}/v2/embed`, { texts: DOCS, model: 'bi', input_type: 'search_query' });
    assert.equal(r.json.meta.api_version.version, '2');
    assert.deepEqual(Object.keys(r.json.embeddings), ['float']);
    assert.ok(r.json.meta.billed_units.input_tokens > 0);
    const nf = await post(`${base}/v2/embed`, { texts: DOCS, model: 'embed-english-v3.0' });
    assert.equal(nf.status, 404);
    assert.match(nf.json.message, /"embed-english-v3.0" is not a served bi-encoder; served: "bi"/);
    const dim = await post(`${base}/v2/embed`, { texts: DOCS, output_dimension: bi.dim * 2 });
    assert.equal(dim.status, 400);
  });

  it('Cohere rerank: v1 and v2 default to no documents; rank_fields ranks "key: value" lines and echoes the object', async () => {
    for (const v of ['1', '2']) {
      const r = await post(`${base}/v${v}/rerank`, { model: 'rr', query: Q, documents: DOCS });
      assert.equal(r.json.meta.api_version.version, v);
      assert.ok(r.json.results.every((x: any) => !('document' in x)), `v${v}`);
    }
    const docs = [{ title: 'Passwords', body: DOCS[0], id: 7 }, { title: 'Food', body: DOCS[1], id: 8 }];
    const expected = await cross.score(Q, docs.map((d) => `title: ${d.title}\nbody: ${d.body}`));
    const r = await post(`${base}/v1/rerank`, { query: Q, documents: docs, rank_fields: ['title', 'body'], return_documents: true });
    for (const x of r.json.results) {
      close(x.relevance_score, expected.probabilities[x.index], `documents[${x.index}]`);
      assert.deepEqual(x.document, docs[x.index]);
    }
    const missing = await post(`${base}/v2/rerank`, { query: Q, documents: docs });
    assert.equal(missing.status, 400);
    assert.match(missing.json.message, /\/documents\/0\/text is required: .*pass rank_fields/);
  });

  it('OpenAI /v1/embeddings errors: {error: {message, type, param, code}}; unknown model 404, empty input 400', async () => {
    const nf = await post(`${base}/v1/embeddings`, { model: 'text-embedding-3-small', input: 'x' });
    assert.equal(nf.status, 404);
    assert.deepEqual(nf.json.error.code, 'model_not_found');
    assert.equal(nf.json.error.type, 'invalid_request_error');
    assert.equal(nf.json.error.param, 'model');
    const empty = await post(`${base}/v1/embeddings`, { model: 'bi', input: [] });
    assert.equal(empty.status, 400);
    assert.deepEqual(Object.keys(empty.json.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(empty.json.error.param, 'input');
    // TEI keeps its own shape and statuses.
    const tei = await post(`${base}/embed`, { inputs: [] });
    assert.equal(tei.status, 422);
    assert.deepEqual(Object.keys(tei.json).sort(), ['error', 'error_type']);
  });
});
