// GET /openapi.json checked against the running server: the document is valid OpenAPI 3.1 (checked by
// @seriousme/openapi-schema-validator), every documented operation exists and answers, each 200 body (and
// each error body) matches its documented schema key for key and type for type (checked by ajv's JSON
// Schema 2020-12 validator, not by the server's own code), the documented headers are sent, and the
// documented request schemas accept what the server accepts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { Collection } from '../src/pipeline/collection.js';
import { DEMO_CORPUS } from '../src/pipeline/demo-corpus.js';
import { defaultConfig } from '../src/server/limits.js';
import { startServer, type RunningServer } from '../src/server/server.js';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';

const QUERY = 'what do dogs need';
const DOCS = ['A puppy needs regular walks', 'Transformers use self-attention', 'Stoats turn white in winter'];

/** A valid request per operationId; a documented operation without one fails the test. */
const SAMPLES: Record<string, unknown[]> = {
  rerank: [{ query: QUERY, texts: DOCS }, { query: QUERY, texts: DOCS, return_text: true, raw_scores: true, truncation_direction: 'left', truncate: true }],
  rerankCohere: [{ model: 'a', query: QUERY, documents: DOCS }, { query: QUERY, documents: [DOCS[0], { text: DOCS[1] }], top_n: 1, return_documents: true, max_tokens_per_doc: 8 }],
  rerankJina: [{ model: 'a', query: QUERY, documents: DOCS }, { query: QUERY, documents: [{ title: 'dogs', text: DOCS[0] }, { title: 'ml', text: DOCS[1] }], rank_fields: ['title', 'text'], return_documents: true }],
  embed: [{ inputs: DOCS }, { inputs: 'one text', normalize: false, truncate: true }],
  embeddingsOpenAI: [{ input: DOCS, model: 'bi' }, { input: 'one', encoding_format: 'base64' }],
  predict: [{ inputs: [QUERY, DOCS[0]] }, { inputs: [[QUERY, DOCS[0]], [QUERY, DOCS[1]]], raw_scores: true, truncate: true }],
  similarity: [{ inputs: { source_sentence: QUERY, sentences: DOCS } }, { inputs: { source_sentence: QUERY, sentences: [DOCS[0]] }, parameters: { truncate: true } }],
  root: [{ inputs: DOCS }, { query: QUERY, texts: DOCS }, { inputs: [[QUERY, DOCS[0]]] }, { inputs: { source_sentence: QUERY, sentences: DOCS } }],
  embedCohereV1: [{ texts: DOCS }, { texts: DOCS, model: 'bi', input_type: 'search_query', embedding_types: ['float', 'int8', 'uint8', 'binary', 'ubinary'], truncate: 'START' }],
  embedCohereV2: [{ texts: DOCS, model: 'bi', input_type: 'search_document' }, { texts: DOCS, embedding_types: ['base64', 'int8'], truncate: 'NONE' }],
  tokenize: [{ inputs: DOCS }, { inputs: 'one text', add_special_tokens: false }],
  search: [{ query: QUERY }, { query: QUERY, top_k: 3, threshold: 0.9, truncate: false, fallback: 'off' }, { query: QUERY, mode: 'keyword', fallback: 'hybrid' }],
  ask: [{ query: QUERY }, { query: QUERY, top_k: 3, threshold: 1, fallback: 'keyword', mode: 'dense' }],
  gaps: [undefined],
  health: [undefined], ready: [undefined], info: [undefined], metrics: [undefined], openapi: [undefined],
};

/** A body each POST operation must refuse with 422. */
const INVALID: Record<string, unknown> = {
  rerank: { query: QUERY, texts: [1] },
  rerankCohere: { query: QUERY, documents: [null] },
  rerankJina: { query: 5, documents: DOCS },
  embed: { inputs: [false] },
  embeddingsOpenAI: { input: DOCS, encoding_format: 'hex' },
  predict: { inputs: [[QUERY, DOCS[0], DOCS[1]]] },
  similarity: { inputs: { source_sentence: QUERY, sentences: [] } },
  root: { inputs: 5 },
  embedCohereV1: { texts: [] },
  embedCohereV2: { texts: DOCS, embedding_types: ['int4'] },
  tokenize: { inputs: [[]] },
  search: { query: QUERY, top_k: 0 },
  ask: { query: QUERY, fallback: 'bm25' },
};

describe('OpenAPI document vs the running server', () => {
  let root: string;
  let server: RunningServer;
  let doc: any;
  let ajv: InstanceType<typeof Ajv2020>;

  /** The first way `value` breaks the schema at `pointer` in the served document (ajv's words), or null. */
  function schemaError(value: unknown, schema: { $ref?: string } | string): string | null {
    const ref = typeof schema === 'string' ? schema : schema.$ref;
    assert.ok(ref, 'schemas are referenced from components');
    const validate = ajv.getSchema(`openapi.json${ref}`);
    assert.ok(validate, `ajv finds ${ref}`);
    if (validate(value)) return null;
    const e = validate.errors![0];
    return `${e.instancePath || '(root)'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` ${String(e.params.additionalProperty)}` : ''}`;
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-openapi-'));
    const [a, bi] = [await ensureGenerated('tiny-cross'), await ensureGenerated('tiny-bi')];
    const enc = await BiEncoder.load(bi, { threads: 1 });
    const coll = Collection.create(enc);
    await coll.add(DEMO_CORPUS);
    await coll.save(join(root, 'coll'));
    await enc.close();
    server = await startServer({ ...defaultConfig(), port: 0, threads: 1 }, {
      rerankers: [{ name: 'a', dir: a }], embedders: [{ name: 'bi', dir: bi }], collection: join(root, 'coll'),
    }, { log: () => undefined });
    const r = await fetch(`${server.url}/openapi.json`);
    assert.equal(r.status, 200);
    doc = await r.json();
    ajv = new Ajv2020({ strict: false, allErrors: false });
    ajv.addSchema(doc, 'openapi.json');
  });
  after(async () => {
    await server?.shutdown();
    await rm(root, { recursive: true, force: true });
  });

  it('is OpenAPI 3.1 with the issue\'s routes', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const valid = await new Validator().validate(doc);
    assert.equal(valid.valid, true, JSON.stringify(valid.errors));
    const ops = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, m]) => Object.keys(m).map((k) => `${k.toUpperCase()} ${p}`));
    for (const want of ['POST /rerank', 'POST /v2/rerank', 'POST /v1/rerank', 'POST /embed', 'POST /v1/embeddings', 'POST /tokenize', 'POST /search',
      'GET /health', 'GET /ready', 'GET /info', 'GET /metrics', 'GET /openapi.json']) {
      assert.ok(ops.includes(want), `${want} is documented`);
    }
  });

  it('every documented operation answers 200 with a body and headers that match its schema', async () => {
    let checked = 0;
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(methods)) {
        const samples = SAMPLES[op.operationId];
        assert.ok(samples, `a sample request for ${op.operationId}`);
        for (const body of samples) {
          if (body !== undefined) {
            const reqSchema = op.requestBody.content['application/json'].schema;
            assert.equal(schemaError(body, reqSchema), null, `the documented ${op.operationId} request schema accepts the sample`);
          }
          const r = await fetch(`${server.url}${path}`, body === undefined
            ? { method: method.toUpperCase() }
            : { method: method.toUpperCase(), headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
          const what = `${method.toUpperCase()} ${path} ${JSON.stringify(body) ?? ''}`;
          assert.equal(r.status, 200, `${what}: ${r.status}`);
          const ok = op.responses['200'];
          const [contentType, media] = Object.entries(ok.content as Record<string, { schema: { $ref: string } }>)[0];
          assert.equal(r.headers.get('content-type'), contentType, what);
          const payload = contentType === 'application/json' ? await r.json() : await r.text();
          const err = schemaError(payload, media.schema);
          assert.equal(err, null, `${what}: ${err}`);
          for (const h of Object.keys(ok.headers ?? {})) assert.match(r.headers.get(h) ?? '', /^\d+$/, `${what}: documented header ${h}`);
          checked++;
        }
      }
    }
    assert.ok(checked >= 17);
  });

  it('documented error responses: invalid bodies get 422 with the Error schema; statuses are listed per route', async () => {
    const errorSchema = '#/components/schemas/Error';
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      const op = methods.post;
      if (!op) continue;
      const bad = INVALID[op.operationId];
      assert.ok(bad !== undefined, `an invalid body for ${op.operationId}`);
      assert.notEqual(schemaError(bad, op.requestBody.content['application/json'].schema), null, `the documented schema refuses it too (${op.operationId})`);
      const r = await fetch(`${server.url}${path}`, { method: 'POST', body: JSON.stringify(bad) });
      // TEI and crossgate answer a refused body with 422 {error, error_type}; OpenAI and Cohere with 400 in their own shape.
      const family = op.tags[0] === 'OpenAI' || op.tags[0] === 'Cohere/Jina';
      const want = family ? 400 : 422;
      assert.equal(r.status, want, path);
      assert.ok(op.responses[String(want)], `${path} documents ${want}`);
      for (const s of ['400', '413', '429', '503']) assert.ok(op.responses[s], `${path} documents ${s}`);
      const body = await r.json();
      assert.equal(schemaError(body, op.responses[String(want)].content['application/json'].schema), null, JSON.stringify(body));
      if (!family) assert.ok(doc.components.schemas.Error.properties.error_type.enum.includes(body.error_type));
    }
    const nf = await fetch(`${server.url}/no/such/route`);
    assert.equal(schemaError(await nf.json(), errorSchema), null);
  });

  it('the schema check is strict: an undocumented key or a wrong type is caught', () => {
    const rerank = doc.paths['/rerank'].post.responses['200'].content['application/json'].schema;
    assert.equal(schemaError([{ index: 0, score: 0.5 }], rerank), null);
    assert.match(schemaError([{ index: 0, score: 0.5, extra: 1 }], rerank)!, /^\/0 must NOT have additional properties extra/);
    assert.match(schemaError([{ index: '0', score: 0.5 }], rerank)!, /^\/0\/index must be integer/);
    assert.match(schemaError([{ score: 0.5 }], rerank)!, /^\/0 must have required property 'index'/);
  });
});
