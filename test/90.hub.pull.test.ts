// `models pull` against a loopback hub: listing, CDN redirects, LFS headers, integrity, resume after a
// cut, gated/missing repos, repos without ONNX, the cache hit that asks nothing, offline and a dead network.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { HubError, pullModel, resolveModelRef, type PullEvent } from '../src/models/hub/index.js';
import { FakeHub } from './90.hub.fake-hub.js';

let root: string;
let crossDir: string;
let biDir: string;
let hub: FakeHub;
let crossSha: string;
let biSha: string;

const QUERY = 'how do I reset my password';
const PASSAGES = ['To reset your password, open the login page and click forgot password.', 'Dogs are loyal canine companions.', 'Stocks and bonds carry different risks.'];

/** A fresh cache and an environment that points at the fake hub and nowhere else (no real token, no real cache). */
function env(extra: Record<string, string> = {}): { env: NodeJS.ProcessEnv; cache: string } {
  return hub.cacheEnv(root, extra);
}

async function rejectsHub(p: Promise<unknown>, code: string, ...patterns: RegExp[]): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof HubError, `expected HubError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const re of patterns) assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected a HubError ${code}`);
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'crossgate-hub-'));
  const gen = join(root, 'generated');
  crossDir = await ensureGenerated('tiny-cross', { root: gen });
  biDir = await ensureGenerated('tiny-bi', { root: gen });
  hub = await FakeHub.start();
  crossSha = hub.addRepo('acme/tiny-cross', crossDir, { extra: { 'model.safetensors': Buffer.alloc(4096, 7), 'pytorch_model.bin': Buffer.alloc(2048, 1) } });
  biSha = hub.addRepo('acme/tiny-bi', biDir);
  hub.addRepo('acme/gated-cross', crossDir, { gated: true });
  hub.addRepo('acme/pt-only', crossDir, { skip: (p) => p.endsWith('.onnx'), extra: { 'model.safetensors': Buffer.alloc(1024, 3), 'tf_model.h5': Buffer.alloc(512, 2) } });
  hub.addRepo('acme/corrupt-cross', crossDir);
  hub.corrupt.add('acme/corrupt-cross/onnx/model.onnx');
  hub.addRepo('acme/corrupt-json', crossDir);
  hub.corrupt.add('acme/corrupt-json/tokenizer.json');
  hub.addRepo('acme/cut-cross', crossDir);
  hub.addRepo('acme/cut-cross-2', crossDir);
  hub.addRepo('acme/race-cross', crossDir);
});

after(async () => {
  await hub.close();
  rmSync(root, { recursive: true, force: true });
});

describe('models pull', () => {
  it('pulls a cross-encoder through the listing, resolve URLs and the CDN, in the huggingface_hub layout, and it scores like the original', async () => {
    const { env: e, cache } = env();
    hub.requests.length = 0;
    const events: PullEvent[] = [];
    const r = await pullModel('acme/tiny-cross', { env: e, onEvent: (ev) => events.push(ev) });
    assert.equal(r.commit, crossSha);
    assert.equal(r.source, 'network');
    const repoDir = join(cache, 'models--acme--tiny-cross');
    assert.equal(r.dir, join(repoDir, 'snapshots', crossSha));
    assert.equal(readFileSync(join(repoDir, 'refs', 'main'), 'utf8'), crossSha);
    // Exactly what crossgate needs: no README, no safetensors/bin weights, no vocab.txt.
    assert.deepEqual(r.files.map((f) => f.path).sort(), ['config.json', 'onnx/model.onnx', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    assert.equal(hub.countRequests((q) => /safetensors|pytorch_model|README|vocab/.test(q.path)), 0);
    // Snapshot entries are relative symlinks into blobs/, named by etag (sha256 for LFS files, git oid otherwise).
    const link = join(r.dir, 'onnx', 'model.onnx');
    assert.ok(lstatSync(link).isSymbolicLink());
    const target = readlinkSync(link);
    assert.match(target, /^\.\.\/\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    assert.ok(readFileSync(link).equals(readFileSync(join(crossDir, 'onnx', 'model.onnx'))));
    assert.match(readlinkSync(join(r.dir, 'config.json')), /^\.\.\/\.\.\/blobs\/[0-9a-f]{40}$/);
    assert.equal(readdirSync(join(repoDir, 'blobs')).filter((b) => b.endsWith('.incomplete')).length, 0);
    // The ONNX file went listing -> HEAD (302 + X-Linked-*) -> CDN GET, the token-free CDN never saw auth.
    assert.equal(hub.countRequests((q) => q.server === 'hub' && q.path === '/api/models/acme/tiny-cross/revision/main'), 1);
    assert.equal(hub.countRequests((q) => q.server === 'hub' && q.method === 'HEAD' && q.path.endsWith(`/resolve/${crossSha}/onnx/model.onnx`)), 1);
    assert.equal(hub.countRequests((q) => q.server === 'cdn' && q.method === 'GET'), 1);
    assert.ok(events.some((ev) => ev.type === 'bytes' && ev.path === 'onnx/model.onnx' && ev.done === ev.total));

    const pulled = await CrossEncoder.load(r.dir);
    const original = await CrossEncoder.load(crossDir);
    try {
      const a = await pulled.score(QUERY, PASSAGES);
      const b = await original.score(QUERY, PASSAGES);
      assert.deepEqual(Array.from(a.logits), Array.from(b.logits));
      assert.equal(pulled.spec.kind, 'cross-encoder');
    } finally {
      await pulled.close();
      await original.close();
    }

    // A second pull of main asks for the listing only; a pull pinned to the commit asks nothing at all.
    hub.requests.length = 0;
    const again = await pullModel('acme/tiny-cross', { env: e });
    assert.equal(again.files.every((f) => !f.downloaded), true);
    assert.deepEqual(hub.requests.map((q) => `${q.method} ${q.path}`), ['GET /api/models/acme/tiny-cross/revision/main']);
    hub.requests.length = 0;
    const pinned = await pullModel(`acme/tiny-cross@${crossSha}`, { env: e });
    assert.equal(pinned.dir, r.dir);
    assert.equal(hub.requests.length, 0, 'a complete commit snapshot needs no request');
    // And a repo id given as --model resolves from the cache with zero requests.
    assert.equal(resolveModelRef('acme/tiny-cross', { env: e }), r.dir);
    assert.equal(hub.requests.length, 0);
  });

  it('pulls a bi-encoder with its sentence-transformers files and --quantized, and it embeds like the original', async () => {
    const { env: e } = env();
    const r = await pullModel('acme/tiny-bi', { env: e, quantized: true });
    assert.equal(r.commit, biSha);
    assert.deepEqual(
      r.files.map((f) => f.path).sort(),
      ['1_Pooling/config.json', 'config.json', 'modules.json', 'onnx/model.onnx', 'onnx/model_quantized.onnx', 'sentence_bert_config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json'],
    );
    for (const quantized of [false, true]) {
      const pulled = await BiEncoder.load(resolveModelRef('acme/tiny-bi', { env: e, quantized }), { quantized });
      const original = await BiEncoder.load(biDir, { quantized });
      try {
        assert.equal(pulled.spec.pooling, 'mean');
        assert.equal(pulled.spec.normalize, true);
        const [a] = await pulled.embed([QUERY]);
        const [b] = await original.embed([QUERY]);
        assert.deepEqual(Array.from(a), Array.from(b));
      } finally {
        await pulled.close();
        await original.close();
      }
    }
  });

  it('resumes with a Range request after the connection is cut halfway, within one pull and across runs', async () => {
    const fp32 = readFileSync(join(crossDir, 'onnx', 'model.onnx'));
    // Within one pull: the client retries from where the bytes stopped.
    {
      const { env: e } = env();
      hub.cutOnce.add('acme/cut-cross/onnx/model.onnx');
      hub.requests.length = 0;
      const r = await pullModel('acme/cut-cross', { env: e, retryDelayMs: 10 });
      const ranged = hub.requests.filter((q) => q.server === 'cdn' && q.range);
      assert.equal(ranged.length, 1, 'one resumed request');
      const from = Number(/^bytes=(\d+)-$/.exec(ranged[0].range ?? '')?.[1]);
      assert.ok(from > 0 && from < fp32.length, `resumed from byte ${from} of ${fp32.length}`);
      assert.ok(readFileSync(join(r.dir, 'onnx', 'model.onnx')).equals(fp32), 'the file is whole');
    }
    // Across runs: no retries, the pull fails and keeps the partial file; the next run resumes it.
    {
      const { env: e, cache } = env();
      hub.cutOnce.add('acme/cut-cross-2/onnx/model.onnx');
      const err = await rejectsHub(pullModel('acme/cut-cross-2', { env: e, retries: 0 }), 'network', /broke off/, /running the same pull again resumes/);
      const blobs = join(cache, 'models--acme--cut-cross-2', 'blobs');
      // The failed pull rolled its finished blobs back to <etag>.incomplete too (whole, resumable): pick model.onnx's.
      const partial = `${hub.repos.get('acme/cut-cross-2')!.files.get('onnx/model.onnx')!.sha256}.incomplete`;
      assert.ok(existsSync(join(blobs, partial)), err.message);
      const kept = statSync(join(blobs, partial)).size;
      assert.ok(kept > 0 && kept < fp32.length, `kept ${kept} bytes`);
      hub.requests.length = 0;
      const r = await pullModel('acme/cut-cross-2', { env: e, retries: 0 });
      assert.deepEqual(hub.requests.filter((q) => q.server === 'cdn').map((q) => q.range), [`bytes=${kept}-`]);
      assert.ok(readFileSync(join(r.dir, 'onnx', 'model.onnx')).equals(fp32));
      assert.equal(readdirSync(blobs).filter((b) => b.endsWith('.incomplete')).length, 0);
    }
  });

  it('rejects a corrupted LFS file (sha256) and a corrupted small file (git blob id), deleting the partial file', async () => {
    for (const [repo, file, what] of [['acme/corrupt-cross', 'onnx/model.onnx', /sha256 is [0-9a-f]{64}, the hub says [0-9a-f]{64}/], ['acme/corrupt-json', 'tokenizer.json', /git blob id is [0-9a-f]{40}, the hub says [0-9a-f]{40}/]] as const) {
      const { env: e, cache } = env();
      await rejectsHub(pullModel(repo, { env: e }), 'integrity', new RegExp(`${file.replace('.', '\\.')} of ${repo}`), what, /partial file was deleted/);
      const repoDir = join(cache, `models--${repo.replace('/', '--')}`);
      const f = hub.repos.get(repo)!.files.get(file)!;
      assert.equal(existsSync(join(repoDir, 'blobs', `${f.lfs ? f.sha256 : f.gitOid}.incomplete`)), false, 'no partial file left of the corrupt one');
      assert.equal(existsSync(join(repoDir, 'snapshots', hub.repos.get(repo)!.sha, ...file.split('/'))), false, 'nothing linked');
      assert.throws(() => resolveModelRef(repo, { env: e }), /lacks|has no/);
    }
  });

  it('explains a gated repo (401 without a token), sends the token to the hub only, and pulls with it', async () => {
    const { env: e } = env();
    await rejectsHub(pullModel('acme/gated-cross', { env: e }), 'gated', /gated repo \(HTTP 401\)/, /no token was sent: set HF_TOKEN/, new RegExp(`Accept its conditions at ${hub.hubUrl}/acme/gated-cross`));
    hub.requests.length = 0;
    const r = await pullModel('acme/gated-cross', { env: { ...e, HF_TOKEN: hub.token } });
    assert.ok(existsSync(join(r.dir, 'onnx', 'model.onnx')));
    assert.ok(hub.requests.filter((q) => q.server === 'hub').every((q) => q.auth === `Bearer ${hub.token}`));
    assert.ok(hub.requests.some((q) => q.server === 'cdn'));
    assert.ok(hub.requests.filter((q) => q.server === 'cdn').every((q) => q.auth === null), 'the CDN never sees the token');
    const { env: e2 } = env({ HF_TOKEN: 'hf_wrong' });
    await rejectsHub(pullModel('acme/gated-cross', { env: e2 }), 'gated', /a token was sent \(from HF_TOKEN\) but that account has no access/);
  });

  it('explains a missing repo (404) and a missing revision', async () => {
    const { env: e } = env();
    await rejectsHub(pullModel('acme/no-such-model', { env: e }), 'repo_not_found', /acme\/no-such-model was not found on http:\/\/127\.0\.0\.1:\d+ \(HTTP 404\)/, /check the spelling/);
    await rejectsHub(pullModel('acme/tiny-cross', { env: e, revision: 'v9' }), 'revision_not_found', /revision not found in acme\/tiny-cross/);
    // Something that is not a repo id stays a path, for the model loader to explain.
    assert.equal(resolveModelRef(join(root, 'no such dir')), join(root, 'no such dir'));
    await assert.rejects(pullModel('just-a-name', { env: e }), /is not a hub repo id: expected "org\/name"/);
  });

  it('fails on a repo without ONNX, naming the exports it has and what to do', async () => {
    const { env: e } = env();
    await rejectsHub(
      pullModel('acme/pt-only', { env: e }),
      'no_onnx',
      /acme\/pt-only@main has no ONNX export/,
      /safetensors \(PyTorch\): model\.safetensors/,
      /TensorFlow: tf_model\.h5/,
      /optimum-cli export onnx --model acme\/pt-only/,
      /crossgate models pull Xenova\/pt-only/,
    );
    assert.equal(hub.countRequests((q) => q.path.includes('/acme/pt-only/resolve/')), 0, 'nothing downloaded');
  });

  it('uses only the cache with HF_HUB_OFFLINE=1, and says what is missing and how to bring it', async () => {
    const { env: e, cache } = env();
    const online = await pullModel('acme/tiny-cross', { env: e });
    hub.requests.length = 0;
    const off = { ...e, HF_HUB_OFFLINE: '1' };
    const r = await pullModel('acme/tiny-cross', { env: off });
    assert.equal(r.source, 'cache');
    assert.equal(r.dir, online.dir);
    assert.equal(resolveModelRef('acme/tiny-cross', { env: off }), online.dir);
    await rejectsHub(
      pullModel('acme/tiny-bi', { env: off }),
      'offline',
      /HF_HUB_OFFLINE is set/,
      new RegExp(`the cache ${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has no models--acme--tiny-bi folder`),
      /on a machine with network run `crossgate models pull acme\/tiny-bi`/,
      /copy the folder models--acme--tiny-bi/,
    );
    assert.throws(() => resolveModelRef('acme/tiny-cross', { env: off, quantized: true }), /lacks a quantized ONNX file/);
    assert.equal(hub.requests.length, 0, 'offline means no request at all');
  });

  it('falls back to the cache when the hub cannot be reached, and explains when the cache cannot help', async () => {
    const { env: e } = env();
    const online = await pullModel('acme/tiny-cross', { env: e });
    // A port nobody listens on: bind one, then close it.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const dead = { ...e, HF_ENDPOINT: `http://127.0.0.1:${port}` };
    const warnings: string[] = [];
    const r = await pullModel('acme/tiny-cross', { env: dead, onEvent: (ev) => ev.type === 'warning' && warnings.push(ev.message) });
    assert.equal(r.source, 'cache');
    assert.equal(r.dir, online.dir);
    assert.match(warnings.join('\n'), new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port} .*ECONNREFUSED.*using the cached snapshot`));
    await rejectsHub(pullModel('acme/tiny-bi', { env: dead }), 'network', new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}`), /cannot come from the hub cache instead/, /crossgate models pull acme\/tiny-bi/);
  });

  it('two concurrent pulls of one model download each blob once and both end with a whole model', async () => {
    const { env: e, cache } = env();
    hub.slowMs = 5;
    hub.requests.length = 0;
    try {
      const [a, b] = await Promise.all([pullModel('acme/race-cross', { env: e }), pullModel('acme/race-cross', { env: e })]);
      assert.equal(a.dir, b.dir);
      assert.ok(readFileSync(join(a.dir, 'onnx', 'model.onnx')).equals(readFileSync(join(crossDir, 'onnx', 'model.onnx'))));
      assert.equal(hub.countRequests((q) => q.server === 'cdn' && q.method === 'GET'), 1, 'the second pull waited for the first');
      assert.equal(a.files.filter((f) => f.downloaded).length + b.files.filter((f) => f.downloaded).length, a.files.length);
      assert.deepEqual(readdirSync(join(cache, '.locks', 'models--acme--race-cross')), [], 'locks released');
    } finally {
      hub.slowMs = 0;
    }
  });
});
