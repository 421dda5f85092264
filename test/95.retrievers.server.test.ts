// `crossgate serve --retriever`: /search retrieves from a real Chroma server and decides as the library does;
// when the engine goes away the server stays up, /search says why (500 backend naming the engine), /ready and
// /metrics report it, /rerank keeps working, and it recovers once the engine is back. An engine that is down
// at start does not stop the server from starting.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { DEMO_CORPUS } from '../src/pipeline/demo-corpus.js';
import { PrecisionPipeline } from '../src/pipeline/precision.js';
import { asPipelineSource, ChromaRetriever } from '../src/retrievers/index.js';
import { parseServerConfig } from '../src/server/limits.js';
import { startServer, type RunningServer } from '../src/server/server.js';
import { freePort, startChroma, type ChromaServer } from './95.retrievers.engines.js';

const QUERY = 'how do I train a puppy';

async function json(url: string, body?: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(url, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe('serve --retriever (real chroma server)', () => {
  let root: string;
  let chroma: ChromaServer & { dir: string };
  let biDir: string;
  let crossDir: string;
  let server: RunningServer;
  const logs: string[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-serve-retriever-'));
    [chroma, biDir, crossDir] = await Promise.all([startChroma(), ensureGenerated('tiny-bi', { root: join(root, 'models') }), ensureGenerated('tiny-cross', { root: join(root, 'models') })]);
    const bi = await BiEncoder.load(biDir);
    try {
      await (await ChromaRetriever.openForIngest(chroma.url('kbase'), bi)).ingest((async function* () { yield [...DEMO_CORPUS]; })());
    } finally {
      await bi.close();
    }
    server = await startServer(parseServerConfig({ argv: ['--port', '0', '--workers', '1'] }).config, {
      rerankers: [{ name: 'tiny', dir: crossDir }], embedders: [{ name: 'bi', dir: biDir }], retriever: chroma.url('kbase'),
    }, { log: (l) => logs.push(l) });
  });
  after(async () => {
    await server?.shutdown();
    await chroma?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('/search decides on Chroma\'s candidates as the library does; /ready and /metrics say the engine answers', async () => {
    const [bi, cross] = await Promise.all([BiEncoder.load(biDir), CrossEncoder.load(crossDir)]);
    try {
      const lib = await new PrecisionPipeline({ collection: asPipelineSource(await ChromaRetriever.open(chroma.url('kbase'), bi)), crossEncoder: cross, topK: 4, threshold: 0.5 }).search(QUERY);
      const r = await json(`${server.url}/search`, { query: QUERY, top_k: 4, threshold: 0.5 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.candidates.map((c: { id: string }) => c.id), lib.candidates.map((c) => c.id));
      assert.equal(r.body.outcome, lib.outcome);
    } finally {
      await bi.close();
      await cross.close();
    }
    const ready = await json(`${server.url}/ready`);
    assert.equal(ready.status, 200);
    assert.equal(ready.body.retriever.engine, 'chroma');
    assert.equal(ready.body.retriever.ok, true);
    assert.equal(ready.body.retriever.error, null);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^crossgate_retriever_up\{engine="chroma"\} 1$/m);
  });

  it('stays up while Chroma is down, says so on /search, /ready and /metrics, and recovers', async () => {
    await chroma.stop(true);
    const r = await json(`${server.url}/search`, { query: QUERY });
    assert.equal(r.status, 500);
    assert.equal(r.body.error_type, 'backend');
    assert.match(r.body.error, /^retriever chroma: Chroma at http:\/\/127\.0\.0\.1:\d+ is not reachable; start it/);
    const ready = await json(`${server.url}/ready`);
    assert.equal(ready.status, 200, 'readiness is not gated on the retriever: the replica still reranks');
    assert.equal(ready.body.retriever.ok, false);
    assert.equal(ready.body.retriever.error.kind, 'unreachable');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^crossgate_retriever_up\{engine="chroma"\} 0$/m);
    assert.match(metrics, /^crossgate_retriever_errors_total\{engine="chroma",kind="unreachable"\} [1-9]\d*$/m);
    const rerank = await json(`${server.url}/rerank`, { query: QUERY, texts: ['a puppy needs walks', 'bananas'] });
    assert.equal(rerank.status, 200, '/rerank does not need the retriever');

    chroma = await startChroma({ port: chroma.port, dir: chroma.dir });
    const back = await json(`${server.url}/search`, { query: QUERY, top_k: 3 });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.candidates.length, 3);
    assert.match(await (await fetch(`${server.url}/metrics`)).text(), /^crossgate_retriever_up\{engine="chroma"\} 1$/m);
  });

  it('starts with its engine down and reports it', async () => {
    const dead = await freePort();
    const lines: string[] = [];
    const s = await startServer(parseServerConfig({ argv: ['--port', '0', '--workers', '1'] }).config, {
      rerankers: [{ name: 'tiny', dir: crossDir }], embedders: [], retriever: `postgres://postgres@127.0.0.1:${dead}/kb`,
    }, { log: (l) => lines.push(l) });
    try {
      assert.ok(lines.some((l) => /retriever postgres postgres:\/\/postgres@127\.0\.0\.1:\d+\/kb is not usable yet \(unreachable\)/.test(l)), lines.join('\n'));
      const ready = await json(`${s.url}/ready`);
      assert.equal(ready.status, 200);
      assert.deepEqual([ready.body.retriever.engine, ready.body.retriever.ok, ready.body.retriever.error.kind], ['postgres', false, 'unreachable']);
    } finally {
      await s.shutdown();
    }
  });
});
