// Contract tests: the published client libraries people use, each pointed at a crossgate server started
// here (127.0.0.1:0, tiny generated models) by base URL only, their answers checked against the library's
// own scores (CrossEncoder.score, BiEncoder.embed) on the same inputs. No stand-ins for the clients.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createOpenAI } from '@ai-sdk/openai';
import { InferenceClient } from '@huggingface/inference';
import { CohereEmbeddings, CohereRerank } from '@langchain/cohere';
import { Document } from '@langchain/core/documents';
import { OpenAIEmbeddings } from '@langchain/openai';
import { embedMany } from 'ai';
import { CohereClient, CohereClientV2, CohereError } from 'cohere-ai';
import OpenAI from 'openai';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { cosine, l2normalize } from '../src/index/vector-math.js';
import { defaultConfig } from '../src/server/limits.js';
import { startServer, type RunningServer } from '../src/server/server.js';

const QUERY = 'how do I reset my password';
const DOCS = [
  "Click on 'Forgot Password' on the login screen",
  'The cafeteria serves lunch from noon until two',
  'Contact support if your account is locked',
];
const KEY = 'not-a-real-key';

/** JSON carries float32 results as doubles; batching can move the last bits. */
function close(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}
function closeVec(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < b.length; i++) close(a[i], b[i], `${what}[${i}]`);
}

describe('published clients against a crossgate server, by base URL only', () => {
  let server: RunningServer;
  let base: string;
  let cross: CrossEncoder;
  let bi: BiEncoder;
  let probs: Float64Array | Float32Array | number[];
  let logits: Float64Array | Float32Array | number[];
  let vecs: Float32Array[];

  before(async () => {
    const [crossDir, biDir] = [await ensureGenerated('tiny-cross'), await ensureGenerated('tiny-bi')];
    [cross, bi] = await Promise.all([CrossEncoder.load(crossDir, { threads: 1 }), BiEncoder.load(biDir, { threads: 1 })]);
    const s = await cross.score(QUERY, DOCS);
    probs = s.probabilities;
    logits = s.logits;
    vecs = (await bi.embed(DOCS)).map((v) => (bi.normalizes ? v : l2normalize(v)));
    server = await startServer({ ...defaultConfig(), port: 0, host: '127.0.0.1', threads: 1 }, {
      rerankers: [{ name: 'rr', dir: crossDir }], embedders: [{ name: 'bi', dir: biDir }],
    }, { log: () => undefined });
    base = server.url;
  });
  after(async () => {
    await server?.shutdown('test done');
    await Promise.all([cross?.close(), bi?.close()]);
  });

  describe('openai (v6)', () => {
    const client = (): OpenAI => new OpenAI({ apiKey: KEY, baseURL: `${base}/v1`, maxRetries: 0 });

    it('embeddings.create: float and base64 (the client decodes it) equal BiEncoder.embed', async () => {
      for (const encoding_format of ['float', 'base64'] as const) {
        const r = await client().embeddings.create({ model: 'bi', input: DOCS, encoding_format });
        assert.equal(r.object, 'list');
        assert.equal(r.model, 'bi');
        assert.ok(r.usage.prompt_tokens > 0 && r.usage.total_tokens === r.usage.prompt_tokens);
        assert.deepEqual(r.data.map((d) => d.index), [0, 1, 2]);
        for (const d of r.data) {
          const emb = encoding_format === 'base64' ? new Float32Array(Uint8Array.from(Buffer.from(d.embedding as unknown as string, 'base64')).buffer) : d.embedding;
          closeVec(emb as ArrayLike<number>, vecs[d.index], `${encoding_format} data[${d.index}]`);
        }
      }
      // The client's default (no encoding_format) asks for base64 and hands back numbers.
      const dflt = await client().embeddings.create({ model: 'bi', input: DOCS[0] });
      closeVec(dflt.data[0].embedding, vecs[0], 'default encoding');
    });

    it('errors reach the client as OpenAI errors: unknown model 404 model_not_found, empty input 400 with param', async () => {
      await assert.rejects(client().embeddings.create({ model: 'text-embedding-3-small', input: 'x' }), (e: unknown) => {
        assert.ok(e instanceof OpenAI.NotFoundError, String(e));
        assert.equal(e.status, 404);
        assert.equal(e.code, 'model_not_found');
        assert.equal(e.type, 'invalid_request_error');
        assert.equal(e.param, 'model');
        assert.match(e.message, /"text-embedding-3-small" is not a served bi-encoder; served: "bi"/);
        return true;
      });
      await assert.rejects(client().embeddings.create({ model: 'bi', input: [] }), (e: unknown) => {
        assert.ok(e instanceof OpenAI.BadRequestError, String(e));
        assert.equal(e.status, 400);
        assert.equal(e.type, 'invalid_request_error');
        assert.equal(e.code, 'validation');
        assert.equal(e.param, 'input');
        return true;
      });
    });
  });

  describe('cohere-ai', () => {
    it('v2 rerank: results by relevance_score = CrossEncoder.score probabilities, top_n, documents off by default', async () => {
      const c = new CohereClientV2({ token: KEY, environment: base });
      const r = await c.rerank({ model: 'rr', query: QUERY, documents: DOCS, topN: 2 });
      assert.equal(r.results.length, 2);
      const order = [...DOCS.keys()].sort((a, b) => probs[b] - probs[a]);
      assert.deepEqual(r.results.map((x) => x.index), order.slice(0, 2));
      for (const x of r.results) {
        close(x.relevanceScore, probs[x.index], `documents[${x.index}]`);
        assert.equal((x as { document?: unknown }).document, undefined);
      }
      assert.equal(r.meta?.apiVersion?.version, '2');
    });

    it('v1 rerank: Cohere\'s v1 defaults (no documents), api_version "1", return_documents and rank_fields', async () => {
      const c = new CohereClient({ token: KEY, environment: base });
      const r = await c.rerank({ model: 'rr', query: QUERY, documents: DOCS });
      assert.equal(r.meta?.apiVersion?.version, '1');
      assert.equal(r.results.length, DOCS.length);
      for (const x of r.results) {
        close(x.relevanceScore, probs[x.index], `documents[${x.index}]`);
        assert.equal(x.document, undefined, 'return_documents is false by default on v1, as Cohere documents it');
      }
      const withDocs = await c.rerank({ model: 'rr', query: QUERY, documents: DOCS, returnDocuments: true });
      for (const x of withDocs.results) assert.equal(x.document?.text, DOCS[x.index]);
      // Structured documents ranked on two fields: the same score as the text the fields render to.
      const structured = DOCS.map((text, i) => ({ title: `doc ${i}`, text }));
      const rendered = structured.map((d) => `title: ${d.title}\ntext: ${d.text}`);
      const expected = await cross.score(QUERY, rendered);
      const rf = await c.rerank({ model: 'rr', query: QUERY, documents: structured, rankFields: ['title', 'text'], returnDocuments: true });
      for (const x of rf.results) {
        close(x.relevanceScore, expected.probabilities[x.index], `structured documents[${x.index}]`);
        assert.equal(x.document?.text, DOCS[x.index]);
      }
    });

    it('v2 embed: float, int8, uint8 and ubinary by type, from the same vectors as BiEncoder.embed', async () => {
      const c = new CohereClientV2({ token: KEY, environment: base });
      const r = await c.embed({ model: 'bi', texts: DOCS, inputType: 'search_document', embeddingTypes: ['float', 'int8', 'uint8', 'ubinary'] });
      assert.equal(r.meta?.apiVersion?.version, '2');
      const e = r.embeddings;
      assert.ok(e.float && e.int8 && e.uint8 && e.ubinary);
      for (let i = 0; i < DOCS.length; i++) {
        closeVec(e.float[i], vecs[i], `float[${i}]`);
        assert.deepEqual(e.int8[i], Array.from(vecs[i], (x) => Math.max(-128, Math.min(127, Math.round(x * 127)))));
        assert.equal(e.ubinary[i].length, vecs[i].length / 8);
        assert.equal((e.ubinary[i][0] >> 7) & 1, vecs[i][0] > 0 ? 1 : 0, 'the first sign bit is the top bit of the first byte');
      }
    });

    it('an unknown model is a NotFoundError (404) in the client', async () => {
      const c = new CohereClientV2({ token: KEY, environment: base });
      await assert.rejects(c.rerank({ model: 'rerank-v3.5', query: QUERY, documents: DOCS }), (e: unknown) => {
        assert.ok(e instanceof CohereError, String(e));
        assert.equal(e.statusCode, 404);
        assert.match(JSON.stringify(e.body), /is not a served cross-encoder/);
        return true;
      });
    });
  });

  describe('@huggingface/inference against the server root (TEI POST /)', () => {
    const hf = (): InferenceClient => new InferenceClient(undefined, { endpointUrl: base });

    it('featureExtraction embeds (TEI /embed): equal to BiEncoder.embed', async () => {
      const r = await hf().featureExtraction({ inputs: DOCS }) as number[][];
      assert.equal(r.length, DOCS.length);
      for (let i = 0; i < DOCS.length; i++) closeVec(r[i], vecs[i], `featureExtraction[${i}]`);
    });

    it('sentenceSimilarity (TEI /similarity): the cosine of the two embeddings', async () => {
      const r = await hf().sentenceSimilarity({ inputs: { source_sentence: DOCS[0], sentences: [DOCS[1], DOCS[2]] } });
      assert.equal(r.length, 2);
      close(r[0], cosine(vecs[0], vecs[1]), 'similarity 0-1');
      close(r[1], cosine(vecs[0], vecs[2]), 'similarity 0-2');
    });

    it('textClassification on a pair (TEI /predict): LABEL_0 with the CrossEncoder probability', async () => {
      // The client's types say string; TEI (and crossgate) score [text, text_pair] batches, which it passes through.
      const inputs = [[QUERY, DOCS[2]]] as unknown as string;
      const r = await hf().textClassification({ inputs });
      assert.deepEqual(r.map((x) => x.label), ['LABEL_0']);
      close(r[0].score, probs[2], 'predict score');
      const raw = await hf().textClassification({ inputs, parameters: {} });
      close(raw[0].score, probs[2], 'same again');
      const direct = await fetch(`${base}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [QUERY, DOCS[2]], raw_scores: true }) });
      const rows = await direct.json() as { label: string; score: number }[];
      close(rows[0].score, logits[2], 'raw_scores is the logit');
    });
  });

  describe('LangChain', () => {
    it('@langchain/cohere CohereRerank.compressDocuments: the top documents with relevanceScore', async () => {
      const rerank = new CohereRerank({ client: new CohereClient({ token: KEY, environment: base }), model: 'rr', topN: 2 });
      const docs = DOCS.map((pageContent, i) => new Document({ pageContent, metadata: { i } }));
      const out = await rerank.compressDocuments(docs, QUERY);
      const order = [...DOCS.keys()].sort((a, b) => probs[b] - probs[a]);
      assert.deepEqual(out.map((d) => d.metadata.i), order.slice(0, 2));
      for (const d of out) close(d.metadata.relevanceScore, probs[d.metadata.i], `doc ${d.metadata.i}`);
      const scores = await rerank.rerank(DOCS, QUERY);
      assert.equal(scores.length, 2);
    });

    it('@langchain/cohere CohereEmbeddings (POST /v1/embed): embedDocuments and embedQuery', async () => {
      const emb = new CohereEmbeddings({ client: new CohereClient({ token: KEY, environment: base }), model: 'bi' });
      const docs = await emb.embedDocuments(DOCS);
      for (let i = 0; i < DOCS.length; i++) closeVec(docs[i], vecs[i], `embedDocuments[${i}]`);
      closeVec(await emb.embedQuery(DOCS[1]), vecs[1], 'embedQuery');
    });

    it('@langchain/openai OpenAIEmbeddings (configuration.baseURL)', async () => {
      const emb = new OpenAIEmbeddings({ model: 'bi', apiKey: KEY, configuration: { baseURL: `${base}/v1` }, maxRetries: 0 });
      const docs = await emb.embedDocuments(DOCS);
      for (let i = 0; i < DOCS.length; i++) closeVec(docs[i], vecs[i], `embedDocuments[${i}]`);
      closeVec(await emb.embedQuery(DOCS[2]), vecs[2], 'embedQuery');
    });
  });

  describe('Vercel AI SDK (ai v5 + @ai-sdk/openai)', () => {
    it('embedMany through createOpenAI({ baseURL })', async () => {
      const openai = createOpenAI({ apiKey: KEY, baseURL: `${base}/v1` });
      const r = await embedMany({ model: openai.textEmbeddingModel('bi'), values: DOCS, maxRetries: 0 });
      assert.equal(r.embeddings.length, DOCS.length);
      for (let i = 0; i < DOCS.length; i++) closeVec(r.embeddings[i], vecs[i], `embeddings[${i}]`);
      assert.ok((r.usage?.tokens ?? 0) > 0);
    });
  });
});
