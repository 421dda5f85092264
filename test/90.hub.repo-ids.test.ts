// Hub repo ids ("org/name[@rev]") wherever the CLI takes a model: rerank/tokenize/embed --model, index build
// --bi-encoder, search --cross-encoder, and serve --reranker/--embedder NAME=REF, all resolved through a
// hub cache laid out the way Python's huggingface_hub leaves it, in a temporary HF_HOME, offline.
// A path that does not exist and is not a repo id keeps its "does not exist" error.
import { crossgate as runCli, ok, spawnServe, type Run } from './60.cli.run.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { defaultWorkers } from '../src/infer/options.js';
import { PY_COMMIT, pythonCache } from './90.hub.python-cache.js';

const QUERY = 'how do I reset my password';
const PASSAGES = ["Click on 'Forgot Password' on the login screen", 'Use a strong password', 'Bananas ripen faster in a paper bag'];
const CROSS_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'onnx/model.onnx'];
const BI_FILES = [...CROSS_FILES, 'modules.json', 'sentence_bert_config.json', '1_Pooling/config.json'];

let root: string;
let crossDir: string;
let biDir: string;
let crossSnap: string;
let biSnap: string;
let env: NodeJS.ProcessEnv;

const crossgate = (args: string[], input = ''): Run => runCli(args, input, env);

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'crossgate-repoid-'));
  crossDir = await ensureGenerated('tiny-cross');
  biDir = await ensureGenerated('tiny-bi');
  crossSnap = pythonCache(join(root, 'hf', 'hub'), 'acme/tiny-cross', crossDir, CROSS_FILES);
  biSnap = pythonCache(join(root, 'hf', 'hub'), 'acme/tiny-bi', biDir, BI_FILES);
  // Only this HF_HOME: no inherited cache location, and offline, so nothing can come from elsewhere.
  env = { ...process.env, HF_HOME: join(root, 'hf'), HF_HUB_OFFLINE: '1', CROSSGATE_DEBUG: '', CROSSGATE_API_KEY: '' };
  delete env.HF_HUB_CACHE;
  delete env.HUGGINGFACE_HUB_CACHE;
  delete env.CROSSGATE_RERANKERS;
  delete env.CROSSGATE_EMBEDDERS;
});

after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('repo ids in the CLI', () => {
  it('rerank --model org/name scores exactly as the model directory does (also with @commit)', () => {
    const input = PASSAGES.join('\n') + '\n';
    const byDir = JSON.parse(ok(crossgate(['rerank', '--model', crossDir, '--query', QUERY, '--json'], input)).stdout);
    const byRepo = JSON.parse(ok(crossgate(['rerank', '--model', 'acme/tiny-cross', '--query', QUERY, '--json'], input)).stdout);
    assert.equal(byRepo.results.length, PASSAGES.length);
    assert.deepEqual(byRepo, byDir);
    const byCommit = JSON.parse(ok(crossgate(['rerank', '--model', `acme/tiny-cross@${PY_COMMIT}`, '--query', QUERY, '--json'], input)).stdout);
    assert.deepEqual(byCommit, byDir);
    // The human output names the model by its repo id, not by the snapshot's commit folder.
    assert.match(ok(crossgate(['rerank', '--model', 'acme/tiny-cross', '--query', QUERY], input)).stdout, /model: acme\/tiny-cross \(3 passages\)/);
  });

  it('tokenize and embed --model org/name match their model directories', () => {
    const lines = JSON.stringify({ text: QUERY, text_pair: PASSAGES[0] }) + '\n';
    assert.equal(ok(crossgate(['tokenize', '--model', 'acme/tiny-cross'], lines)).stdout, ok(crossgate(['tokenize', '--model', crossDir], lines)).stdout);
    const texts = PASSAGES.join('\n');
    const byRepo = JSON.parse(ok(crossgate(['embed', '--model', 'acme/tiny-bi', '--json'], texts)).stdout) as { embeddings: number[][] };
    assert.equal(byRepo.embeddings.length, PASSAGES.length);
    assert.deepEqual(byRepo, JSON.parse(ok(crossgate(['embed', '--model', biDir, '--json'], texts)).stdout));
  });

  it('index build --bi-encoder org/name and search --cross-encoder org/name', () => {
    const docs = PASSAGES.map((text, i) => JSON.stringify({ id: `d${i}`, text })).join('\n');
    const out = join(root, 'coll');
    ok(crossgate(['index', 'build', '--bi-encoder', 'acme/tiny-bi', '--out', out], docs));
    const decision = JSON.parse(ok(crossgate(['search', '--index', out, '--query', QUERY, '--cross-encoder', 'acme/tiny-cross', '--top-k', '3', '--json'])).stdout);
    assert.equal(decision.candidates.length, 3);
    assert.deepEqual(new Set(decision.candidates.map((c: { id: string }) => c.id)), new Set(['d0', 'd1', 'd2']));
  });

  it('a repo id that is not cached, and a path that does not exist, each fail with a message naming the flag and the fix', () => {
    const missing = crossgate(['rerank', '--model', 'acme/not-pulled', '--query', QUERY], 'x\n');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--model acme\/not-pulled: .*must come from the hub cache, but .* has no models--acme--not-pulled folder/);
    assert.match(missing.stderr, /crossgate models pull acme\/not-pulled/);
    const nope = join(root, 'no', 'such', 'model');
    const path = crossgate(['rerank', '--model', nope, '--query', QUERY], 'x\n');
    assert.equal(path.code, 1);
    assert.match(path.stderr, /no\/such\/model.* does not exist; pass the folder that holds config\.json/);
    const tok = crossgate(['tokenize', '--model', nope], '{"text":"x"}\n');
    assert.equal(tok.code, 1);
    assert.match(tok.stderr, /--model .*no\/such\/model does not exist; pass a model directory .* or a hub repo id/);
  });
});

describe('repo ids in crossgate serve', () => {
  it('serve --reranker x=org/name --embedder org/name: starts, /ready, /rerank scores as the model does, SIGTERM exits 0', async () => {
    const serve = spawnServe(['--reranker', 'x=acme/tiny-cross', '--embedder', 'acme/tiny-bi', '--port', '0', '--threads', '1'], env);
    const { child, exited } = serve;
    const reference = await CrossEncoder.load(crossDir, { workers: 1, threads: 1 });
    try {
      await serve.ready;
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(serve.stdout)![1];
      assert.ok(serve.stdout.includes(`reranker "x": ${crossSnap} on cpu`), serve.stdout);
      assert.ok(serve.stdout.includes(`embedder "acme/tiny-bi": ${biSnap} on cpu`), serve.stdout);

      assert.equal((await fetch(`${url}/ready`)).status, 200);
      const r = await fetch(`${url}/rerank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY, texts: PASSAGES }) });
      assert.equal(r.status, 200);
      const rows = await r.json() as { index: number; score: number }[];
      const expected = await reference.score(QUERY, PASSAGES);
      assert.equal(rows.length, PASSAGES.length);
      for (const row of rows) assert.ok(Math.abs(row.score - expected.probabilities[row.index]) < 1e-5, `score of #${row.index}`);
      // Clients name the embedder by its repo id (what Cohere/OpenAI clients send as "model").
      const e = await fetch(`${url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'acme/tiny-bi', input: 'hello' }) });
      assert.equal(e.status, 200);
      assert.equal(((await e.json()) as { model: string }).model, 'acme/tiny-bi');

      const info = await (await fetch(`${url}/info`)).json() as { models: { name: string; dir: string }[]; limits: Record<string, { value: unknown }> };
      assert.deepEqual(info.models.map((m) => [m.name, m.dir]), [['x', crossSnap], ['acme/tiny-bi', biSnap]]);
      // workers came from the default: /info shows what the encoders run (cpu: the cpu default), threads the flag.
      assert.equal(info.limits.workers.value, defaultWorkers('cpu'));
      assert.equal(info.limits.threads.value, 1);

      assert.ok(child.kill('SIGTERM'));
      const { code, signal } = await exited;
      assert.equal(signal, null, serve.stderr);
      assert.equal(code, 0, serve.stderr);
      assert.match(serve.stdout, /stopped/);
    } finally {
      await reference.close();
      serve.kill();
    }
  });

  it('serve with a repo id that is not cached refuses before listening, naming the flag and the pull command', () => {
    const r = crossgate(['serve', '--reranker', 'x=acme/not-pulled', '--port', '0']);
    assert.equal(r.code, 2);
    assert.doesNotMatch(r.stdout, /listening/);
    assert.match(r.stderr, /--reranker acme\/not-pulled: .*has no models--acme--not-pulled folder.*crossgate models pull acme\/not-pulled/);
    const nope = join(root, 'no', 'such', 'model');
    const p = crossgate(['serve', '--reranker', `x=${nope}`, '--port', '0']);
    assert.equal(p.code, 2);
    assert.match(p.stderr, /--reranker x=.*no\/such\/model: model directory .* does not exist/);
  });
});
