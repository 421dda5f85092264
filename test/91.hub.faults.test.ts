// Hub downloads under faults, against the loopback fake hub: a body that stalls mid-file times out per
// HF_HUB_DOWNLOAD_TIMEOUT and resumes with a Range request; transient 5xx answers and dropped connections
// are retried with backoff (client.ts RETRY: huggingface_hub's http_backoff shape); a failed or refused
// pull leaves the cache as it found it apart from resumable partial files, so `models list` shows no
// phantom model and partial files do not count in its size.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { HubError, listCachedModels, pullModel } from '../src/models/hub/index.js';
import { FakeHub } from './90.hub.fake-hub.js';

let root: string;
let crossDir: string;
let hub: FakeHub;

function env(extra: Record<string, string> = {}): { env: NodeJS.ProcessEnv; cache: string } {
  return hub.cacheEnv(root, extra);
}

/** Every path under `dir`, relative, sorted: the cache's state to compare before and after. */
function tree(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const n of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, n.name);
    out.push(p.slice(base.length + 1) + (n.isDirectory() ? '/' : ''));
    if (n.isDirectory()) out.push(...tree(p, base));
  }
  return out.sort();
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'crossgate-hub-faults-'));
  crossDir = await ensureGenerated('tiny-cross', { root: join(root, 'generated') });
  hub = await FakeHub.start();
  for (const r of ['stall', 'flaky', 'gated', 'corrupt', 'kept', 'other']) hub.addRepo(`acme/${r}`, crossDir, { gated: r === 'gated' });
  hub.corrupt.add('acme/corrupt/onnx/model.onnx');
});
after(async () => {
  await hub?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('hub download faults', () => {
  it('a body that stalls mid-file times out after HF_HUB_DOWNLOAD_TIMEOUT and resumes with a Range request', { timeout: 90_000 }, async () => {
    const fp32 = readFileSync(join(crossDir, 'onnx', 'model.onnx'));
    const { env: e } = env({ HF_HUB_DOWNLOAD_TIMEOUT: '0.5' });
    hub.stallOnce.add('acme/stall/onnx/model.onnx');
    hub.requests.length = 0;
    // The test's timeout only turns the old behaviour (waiting forever) into a failure instead of a hung run.
    const r = await pullModel('acme/stall', { env: e, retryDelayMs: 10 });
    const cdn = hub.requests.filter((q) => q.server === 'cdn' && q.path.endsWith(hub.repos.get('acme/stall')!.files.get('onnx/model.onnx')!.sha256));
    assert.equal(cdn.length, 2, 'the stalled GET and one resumed GET');
    const from = Number(/^bytes=(\d+)-$/.exec(cdn[1].range ?? '')?.[1]);
    assert.ok(from > 0 && from < fp32.length, `resumed from byte ${from} of ${fp32.length}`);
    assert.ok(readFileSync(join(r.dir, 'onnx', 'model.onnx')).equals(fp32), 'the file is whole');
  });

  it('transient 5xx answers and dropped connections on the hub and the CDN are retried with backoff', async () => {
    const { env: e } = env();
    hub.hubFaults.push(503, 'reset', 502); // the listing fails three times, then answers
    hub.cdnFaults.push(500, 'reset');      // the LFS download
    hub.requests.length = 0;
    const r = await pullModel('acme/flaky', { env: e, retryDelayMs: 10 });
    assert.ok(readFileSync(join(r.dir, 'onnx', 'model.onnx')).equals(readFileSync(join(crossDir, 'onnx', 'model.onnx'))));
    assert.equal(hub.requests.filter((q) => q.server === 'hub' && q.path.startsWith('/api/models/acme/flaky')).length, 4, 'the listing was asked four times');
    assert.deepEqual([hub.hubFaults.length, hub.cdnFaults.length], [0, 0], 'every fault was served');
  });

  it('gives up after the retries with a clear error, and a 404 or 401 is never retried', async () => {
    const { env: e } = env();
    hub.hubFaults.push(503, 503, 503);
    await assert.rejects(pullModel('acme/flaky', { env: e, retries: 2, retryDelayMs: 10 }), (err: Error) =>
      err instanceof HubError && err.code === 'server' && /HTTP 503/.test(err.message) && /try again later/.test(err.message));
    hub.requests.length = 0;
    await assert.rejects(pullModel('acme/absent', { env: e, retryDelayMs: 10 }), (err: Error) => err instanceof HubError && err.code === 'repo_not_found');
    assert.equal(hub.requests.length, 1, 'a missing repo is asked once');
  });

  it('a refused pull (gated repo) and a failed one (checksum mismatch) leave the cache as they found it, apart from partial files', async () => {
    const { env: e, cache } = env();
    await pullModel('acme/kept', { env: e });
    const listed = listCachedModels(cache);
    assert.deepEqual(listed.map((m) => m.repoId), ['acme/kept']);
    const before = tree(cache);

    await assert.rejects(pullModel('acme/gated', { env: e, retryDelayMs: 10 }), (err: Error) => err instanceof HubError && err.code === 'gated');
    assert.deepEqual(tree(cache), before, 'the gated pull left nothing behind');

    await assert.rejects(pullModel('acme/corrupt', { env: e, retryDelayMs: 10 }), (err: Error) => err instanceof HubError && err.code === 'integrity');
    const added = tree(cache).filter((p) => !before.includes(p));
    // What is left is resumable: the corrupt download is gone, the files it had finished went back to
    // <etag>.incomplete, whole; no ref, no snapshot.
    assert.ok(added.length > 0 && added.every((p) => p === 'models--acme--corrupt/' || p === 'models--acme--corrupt/blobs/' || /^models--acme--corrupt\/blobs\/[0-9a-f]+\.incomplete$/.test(p)), added.join('\n'));
    assert.deepEqual(listCachedModels(cache).map((m) => [m.repoId, m.sizeBytes]), listed.map((m) => [m.repoId, m.sizeBytes]), 'models list: no phantom, same size');

    // The next pull of the same repo (fixed on the server) reuses the whole ones without downloading them.
    hub.corrupt.delete('acme/corrupt/onnx/model.onnx');
    hub.requests.length = 0;
    const r = await pullModel('acme/corrupt', { env: e });
    assert.equal(r.files.filter((f) => f.path !== 'onnx/model.onnx' && f.downloaded).length, r.files.length - 1);
    assert.equal(hub.requests.filter((q) => q.method === 'GET' && q.server === 'hub' && q.path.includes('/resolve/')).length, 0, 'the small files were verified from their kept bytes, not fetched');
    assert.deepEqual(listCachedModels(cache).map((m) => m.repoId), ['acme/corrupt', 'acme/kept']);
  });

  it('partial files do not count in the size models list shows', async () => {
    const { env: e, cache } = env();
    await pullModel('acme/other', { env: e });
    const [m] = listCachedModels(cache);
    writeFileSync(join(cache, 'models--acme--other', 'blobs', `${'ab'.repeat(32)}.incomplete`), Buffer.alloc(100_000));
    assert.equal(listCachedModels(cache)[0].sizeBytes, m.sizeBytes);
  });
});
