// The hub cache shared with Python: a huggingface_hub-made layout is found and loaded, repo ids resolve
// everywhere a model dir is taken, and `crossgate models pull|list|rm` behave as their help says.
import { loadModelDir } from '../src/models/model-dir.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { findHubSnapshot, resolveDemoModel, resolveModelArg } from '../src/cli/model-paths.js';
import { runModels } from '../src/cli/models.js';
import { UsageError } from '../src/cli/args.js';
import { HubError, listCachedModels, pullModel, resolveModelRef } from '../src/models/hub/index.js';
import { FakeHub } from './90.hub.fake-hub.js';
import { PY_COMMIT, PY_OLD_COMMIT, pythonCache } from './90.hub.python-cache.js';

let root: string;
let crossDir: string;
let biDir: string;
let hub: FakeHub;

const COMMIT = PY_COMMIT;
const OLD_COMMIT = PY_OLD_COMMIT;

function capture(): { io: { out: { write(s: string): boolean }; err: { write(s: string): boolean; isTTY: boolean }; env: NodeJS.ProcessEnv }; out: () => string; err: () => string } {
  let o = '';
  let e = '';
  return {
    io: { out: { write: (s: string) => ((o += s), true) }, err: { write: (s: string) => ((e += s), true), isTTY: false }, env: {} },
    out: () => o,
    err: () => e,
  };
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'crossgate-hubcache-'));
  crossDir = await ensureGenerated('tiny-cross', { root: join(root, 'generated') });
  biDir = await ensureGenerated('tiny-bi', { root: join(root, 'generated') });
  hub = await FakeHub.start();
  hub.addRepo('acme/tiny-cross', crossDir);
  hub.addRepo('acme/tiny-bi', biDir);
});

after(async () => {
  await hub.close();
  rmSync(root, { recursive: true, force: true });
});

describe('hub cache', () => {
  it('finds and loads a model that Python huggingface_hub put in the cache, with no request', async () => {
    const cache = join(root, 'py-home', 'hub');
    const snap = pythonCache(cache, 'cross-encoder/ms-marco-MiniLM-L-6-v2', crossDir, ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']);
    const env = { HF_HOME: join(root, 'py-home'), HOME: join(root, 'home'), HF_ENDPOINT: hub.hubUrl };
    hub.requests.length = 0;
    assert.equal(resolveModelRef('cross-encoder/ms-marco-MiniLM-L-6-v2', { env }), snap);
    assert.equal(resolveModelRef(`cross-encoder/ms-marco-MiniLM-L-6-v2@${COMMIT}`, { env }), snap);
    assert.equal(findHubSnapshot('cross-encoder/ms-marco-MiniLM-L-6-v2', env), snap);
    // `models pull` of that commit is a cache hit too.
    const pulled = await pullModel(`cross-encoder/ms-marco-MiniLM-L-6-v2@${COMMIT}`, { env });
    assert.equal(pulled.dir, snap);
    assert.equal(hub.requests.length, 0, 'the server saw zero requests');
    const a = await CrossEncoder.load(snap);
    const b = await CrossEncoder.load(crossDir);
    try {
      const q = 'how do I reset my password';
      const p = ['click forgot password on the login page', 'dogs are loyal'];
      assert.deepEqual(Array.from((await a.score(q, p)).logits), Array.from((await b.score(q, p)).logits));
    } finally {
      await a.close();
      await b.close();
    }
    // The old ONNX-less snapshot is listed as older, the current one with its kind.
    const [m] = listCachedModels(cache);
    assert.equal(m.repoId, 'cross-encoder/ms-marco-MiniLM-L-6-v2');
    assert.equal(m.kind, 'cross-encoder');
    assert.equal(m.current?.commit, COMMIT);
    assert.equal(m.snapshots.length, 2);
    // A pinned revision that lacks the files is reported exactly.
    assert.throws(() => resolveModelRef(`cross-encoder/ms-marco-MiniLM-L-6-v2@${OLD_COMMIT}`, { env }), (e: Error) => e instanceof HubError && /lacks tokenizer\.json, onnx\/model\.onnx or model\.onnx/.test(e.message) && /crossgate models pull cross-encoder\/ms-marco-MiniLM-L-6-v2@fedcba/.test(e.message));
  });

  it('the library loads a cached repo id wherever it takes a model directory, named by its repo id', async () => {
    const home = join(root, 'lib-home');
    const snap = pythonCache(join(home, 'hub'), 'cross-encoder/ms-marco-MiniLM-L-6-v2', crossDir, ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']);
    const saved = { HF_HOME: process.env.HF_HOME, HF_HUB_CACHE: process.env.HF_HUB_CACHE };
    process.env.HF_HOME = home;
    delete process.env.HF_HUB_CACHE;
    try {
      const spec = loadModelDir('cross-encoder/ms-marco-MiniLM-L-6-v2');
      assert.equal(spec.dir, snap);
      assert.equal(spec.name, 'cross-encoder/ms-marco-MiniLM-L-6-v2');
      assert.equal(spec.kind, 'cross-encoder');
      assert.throws(() => loadModelDir('cross-encoder/not-pulled-yet'), (e: Error) => /crossgate models pull cross-encoder\/not-pulled-yet/.test(e.message));
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('turns every --model repo id into its snapshot, a missing one into an error naming the flag and the pull command', async () => {
    const cache = mkdtempSync(join(root, 'flags-'));
    const env = { HF_HUB_CACHE: cache, HOME: join(root, 'home'), HF_ENDPOINT: hub.hubUrl };
    const r = await pullModel('acme/tiny-cross', { env });
    assert.equal(resolveModelArg('--model', 'acme/tiny-cross', { env }), r.dir);
    assert.equal(resolveModelArg('--model', crossDir, { env }), crossDir, 'a directory stays a directory');
    assert.throws(() => resolveModelArg('--bi-encoder', 'acme/tiny-bi', { env }), /^HubError: --bi-encoder acme\/tiny-bi: acme\/tiny-bi@main is not in the hub cache: the cache .* has no models--acme--tiny-bi folder\. Run `crossgate models pull acme\/tiny-bi` first/);
    assert.throws(() => resolveModelArg('--model', 'acme/tiny-cross', { env, quantized: true }), /lacks a quantized ONNX file.*crossgate models pull acme\/tiny-cross --quantized/);
    // The demo takes repo ids too, and reports them as coming from the hub cache.
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const d = await resolveDemoModel('cross', 'acme/tiny-cross');
      assert.deepEqual(d, { dir: r.dir, origin: 'hf-cache', randomWeights: true });
    } finally {
      for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('`models pull` prints the directory on stdout and quiet progress lines on a non-TTY stderr', async () => {
    const cache = mkdtempSync(join(root, 'cli-'));
    const c = capture();
    c.io.env = { HF_HUB_CACHE: cache, HOME: join(root, 'home'), HF_ENDPOINT: hub.hubUrl };
    await runModels(['pull', 'acme/tiny-bi', '--quantized'], c.io);
    const dir = c.out().trim();
    assert.equal(dir, resolveModelRef('acme/tiny-bi', { env: c.io.env }));
    assert.match(c.err(), /^pulling acme\/tiny-bi@main \(commit [0-9a-f]{12}\): config\.json, tokenizer\.json/);
    assert.match(c.err(), /onnx\/model\.onnx \([\d.]+ [KM]B\): downloaded and verified/);
    assert.match(c.err(), /acme\/tiny-bi@main: 9 files, 9 downloaded/);
    assert.doesNotMatch(c.err(), /\r|\x1b\[/, 'no bar control characters in CI logs');
    // Again: everything cached.
    const c2 = capture();
    c2.io.env = c.io.env;
    await runModels(['pull', 'acme/tiny-bi'], c2.io);
    assert.equal(c2.out().trim(), dir);
    assert.match(c2.err(), /8 files, 0 downloaded \(0 B\), 8 already cached/);
  });

  it('a large file gets a few progress lines in CI, not a line per chunk', async () => {
    const big = Buffer.alloc(3_500_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    hub.addRepo('acme/big', null, { extra: { 'config.json': readFileSync(join(crossDir, 'config.json')), 'tokenizer.json': readFileSync(join(crossDir, 'tokenizer.json')), 'onnx/model.onnx': big } });
    const c = capture();
    c.io.env = { HF_HUB_CACHE: mkdtempSync(join(root, 'big-')), HOME: join(root, 'home'), HF_ENDPOINT: hub.hubUrl };
    await runModels(['pull', 'acme/big'], c.io);
    const lines = c.err().split('\n').filter((l) => l.startsWith('  onnx/model.onnx: '));
    assert.ok(lines.length >= 2 && lines.length <= 11, lines.join('\n'));
    assert.match(lines.at(-1)!, /^ {2}onnx\/model\.onnx: 100% \(3\.5\/3\.5 MB, [\d.]+ [KMG]?B\/s, done in [\d.]+ s\)$/, 'bytes in MB, a rate and the time');
    assert.ok(readFileSync(join(c.out().trim(), 'onnx', 'model.onnx')).equals(big));
  });

  it('`models list` shows kind, size and revision; `models rm` removes one and refuses unknown ones', async () => {
    const cache = mkdtempSync(join(root, 'list-'));
    const env = { HF_HUB_CACHE: cache, HOME: join(root, 'home'), HF_ENDPOINT: hub.hubUrl };
    const cross = await pullModel('acme/tiny-cross', { env });
    await pullModel('acme/tiny-bi', { env });
    pythonCache(cache, 'acme/pt-only', crossDir, ['config.json', 'tokenizer.json']);
    const c = capture();
    c.io.env = env;
    await runModels(['list'], c.io);
    const lines = c.out().trim().split('\n');
    assert.equal(lines[0], `hub cache: ${cache}`);
    assert.match(lines[1], /^REPO\s+KIND\s+SIZE\s+REVISION\s+ONNX$/);
    assert.match(c.out(), new RegExp(`acme/tiny-cross\\s+cross-encoder\\s+[\\d.]+ [KM]B\\s+main ${cross.commit.slice(0, 12)}\\s+fp32\\n`));
    assert.match(c.out(), /acme\/tiny-bi\s+bi-encoder\s+[\d.]+ [KM]B\s+main [0-9a-f]{12}\s+fp32/);
    assert.match(c.out(), /acme\/pt-only\s+-\s+[\d.]+ [KM]?B\s+main 0123456789ab \(\+1 older\)\s+none\s+\(no ONNX file/);
    const j = capture();
    j.io.env = env;
    await runModels(['list', '--json'], j.io);
    const rows = JSON.parse(j.out()) as any[];
    const crossRow = rows.find((r) => r.repo === 'acme/tiny-cross');
    const onDisk = readFileSync(join(cross.dir, 'onnx', 'model.onnx')).length;
    assert.ok(crossRow.bytes > onDisk && crossRow.bytes < onDisk * 1.2, `size ${crossRow.bytes} counts the blobs (onnx ${onDisk})`);
    assert.equal(crossRow.dir, cross.dir);

    const r = capture();
    r.io.env = env;
    await runModels(['rm', 'acme/tiny-cross'], r.io);
    assert.match(r.out(), /^removed acme\/tiny-cross from .* \([\d.]+ [KM]B freed\)\n$/);
    assert.equal(existsSync(join(cache, 'models--acme--tiny-cross')), false);
    assert.ok(existsSync(join(cache, 'models--acme--tiny-bi')), 'the others stay');
    await assert.rejects(runModels(['rm', 'acme/tiny-cross'], r.io), /acme\/tiny-cross is not in the hub cache .*models list/);
    // A live pull holds a lock: rm refuses.
    const lockDir = join(cache, '.locks', 'models--acme--tiny-bi');
    mkdirSync(lockDir, { recursive: true });
    writeFileSync(join(lockDir, 'abc.crossgate.lock'), JSON.stringify({ pid: process.pid, host: hostname() }));
    await assert.rejects(runModels(['rm', 'acme/tiny-bi'], r.io), new RegExp(`a pull of acme/tiny-bi is running \\(process ${process.pid}`));
  });

  it('takes over a lock left by a dead process instead of waiting forever', async () => {
    const cache = mkdtempSync(join(root, 'stale-'));
    const env = { HF_HUB_CACHE: cache, HOME: join(root, 'home'), HF_ENDPOINT: hub.hubUrl };
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const onnx = readFileSync(join(crossDir, 'onnx', 'model.onnx'));
    const etag = createHash('sha256').update(onnx).digest('hex');
    const lockDir = join(cache, '.locks', 'models--acme--tiny-cross');
    mkdirSync(lockDir, { recursive: true });
    writeFileSync(join(lockDir, `${etag}.crossgate.lock`), JSON.stringify({ pid: Number(dead.stdout), host: hostname() }));
    const t0 = Date.now();
    const r = await pullModel('acme/tiny-cross', { env });
    assert.ok(readFileSync(join(r.dir, 'onnx', 'model.onnx')).equals(onnx));
    assert.ok(Date.now() - t0 < 10_000);
  });

  it('answers usage mistakes with UsageError and prints complete help', async () => {
    const c = capture();
    await runModels(['--help'], c.io);
    for (const s of ['models pull <org/name>[@REV]', 'models list', 'models rm <org/name>', 'models quantize <DIR|org/name> [--per-channel] [--out DIR]']) assert.ok(c.out().includes(s), s);
    const h = capture();
    await runModels(['pull', '--help'], h.io);
    for (const s of ['--revision REV', '--quantized', '--cache-dir DIR', 'HF_ENDPOINT', 'HF_TOKEN', 'HF_HUB_OFFLINE', 'optimum-cli export onnx', 'Xenova/']) assert.ok(h.out().includes(s), s);
    await assert.rejects(runModels([], c.io), UsageError);
    await assert.rejects(runModels(['fetch'], c.io), /unknown subcommand "models fetch"/);
    await assert.rejects(runModels(['pull'], c.io), (e: Error) => e instanceof UsageError && /needs <org\/name>/.test(e.message));
    await assert.rejects(runModels(['pull', 'a/b', 'c/d'], c.io), /unexpected argument "c\/d"/);
    await assert.rejects(runModels(['pull', 'nope'], c.io), (e: Error) => e instanceof UsageError && /"nope" is not a hub repo id/.test(e.message));
    await assert.rejects(runModels(['list', '--bogus'], c.io), (e: Error) => e instanceof UsageError && /unknown option '--bogus'/.test(e.message));
  });
});
