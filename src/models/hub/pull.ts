// `models pull`: list the repo at a revision, choose the files crossgate needs, and fetch each into the
// shared cache (blob by etag, locked, resumed, verified), then link the snapshot and write refs/{revision}.
import { existsSync, statSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { HubClient, type ExpectedContent, type Sibling } from './client.js';
import { checkSnapshot, findCachedSnapshot, linkBlob, locksDir, repoCacheDir, writeRef } from './cache.js';
import { HubError } from './errors.js';
import { NoOnnxExportError, planFiles } from './files.js';
import { acquireLock } from './lock.js';
import { COMMIT_HASH, parseRepoRef, repoFolderName } from './repo-id.js';
import { hubSettings, type HubSettings, type SettingsOverrides } from './settings.js';

export type PullEvent =
  | { type: 'plan'; repoId: string; revision: string; commit: string; files: { path: string; size: number | null }[] }
  | { type: 'file'; path: string; size: number; state: 'cached' | 'downloading' | 'done' }
  | { type: 'bytes'; path: string; done: number; total: number }
  | { type: 'wait'; path: string; holder: string }
  | { type: 'warning'; message: string };

export interface PullOptions extends SettingsOverrides {
  /** Branch, tag or commit (also accepted inline as org/name@rev). Default main. */
  revision?: string;
  /** Also fetch the quantized ONNX file. */
  quantized?: boolean;
  onEvent?: (e: PullEvent) => void;
  /** Resume attempts per file after a cut within this run (default 3). */
  retries?: number;
  retryDelayMs?: number;
  signal?: AbortSignal;
  /** A lock with no heartbeat for this long is taken over (ms, default 30000). */
  lockStaleMs?: number;
}

export interface PulledFile {
  path: string;
  size: number;
  /** False when the cache already had it. */
  downloaded: boolean;
}

export interface PullResult {
  repoId: string;
  revision: string;
  commit: string;
  /** The snapshot directory: pass it (or the repo id) as --model. */
  dir: string;
  files: PulledFile[];
  /** 'cache': nothing was fetched because the network was off or unreachable, or the commit was cached. */
  source: 'network' | 'cache';
  /** Requests made to the hub and CDN. */
  requests: number;
}

/** The message for "not usable from the cache", with the ways to get the model onto this machine. */
export function notCachedMessage(settings: HubSettings, repoId: string, revision: string, reason: string, why: 'offline' | 'network' | 'not_pulled', extra = '', quantized = false): string {
  const pull = `crossgate models pull ${repoId}${revision !== 'main' ? `@${revision}` : ''}${quantized ? ' --quantized' : ''}`;
  const copy = `copy the folder ${repoFolderName(repoId)} from that machine's hub cache (~/.cache/huggingface/hub, or $HF_HUB_CACHE) into ${settings.cacheDir} here, keeping its symlinks (\`tar\` or \`rsync -a\`); or copy a model directory (config.json, tokenizer.json, onnx/model.onnx) and pass its path instead of the repo id`;
  if (why === 'not_pulled') return `${repoId}@${revision} is not in the hub cache: ${reason}. Run \`${pull}\` first (or ${copy})`;
  const head = why === 'offline' ? `HF_HUB_OFFLINE is set, so ${repoId}@${revision} must come from the hub cache, but ${reason}` : `${extra}, and ${repoId}@${revision} cannot come from the hub cache instead: ${reason}`;
  return `${head}. To get it onto this machine: on a machine with network run \`${pull}\` (or \`huggingface-cli download ${repoId}\`), then ${copy}`;
}

function siblingSize(s: Sibling | undefined): number | null {
  if (!s) return null;
  return s.lfs?.size ?? s.size ?? null;
}

function usableSize(path: string): number | null {
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

function fromCache(repoId: string, revision: string, commit: string, dir: string, requests: number): PullResult {
  return { repoId, revision, commit, dir, files: [], source: 'cache', requests };
}

/** Downloads what crossgate needs from `ref` ("org/name" or "org/name@revision") into the hub cache. */
export async function pullModel(ref: string, opts: PullOptions = {}): Promise<PullResult> {
  const settings = hubSettings(opts);
  const { repoId, revision, explicitRevision } = parseRepoRef(ref, opts.revision);
  const emit = opts.onEvent ?? ((): void => undefined);
  const repoDir = repoCacheDir(settings.cacheDir, repoId);
  const lookup = (): ReturnType<typeof findCachedSnapshot> => findCachedSnapshot(settings.cacheDir, repoId, revision, { quantized: opts.quantized, explicitRevision });

  if (settings.offline) {
    const hit = lookup();
    if (hit.found) return fromCache(repoId, revision, hit.commit, hit.dir, 0);
    throw new HubError('offline', notCachedMessage(settings, repoId, revision, hit.reason, 'offline', '', opts.quantized));
  }
  // A commit is immutable: if its snapshot is complete there is nothing to ask the hub.
  if (COMMIT_HASH.test(revision)) {
    const dir = join(repoDir, 'snapshots', revision);
    if (checkSnapshot(dir, { quantized: opts.quantized }).complete) return fromCache(repoId, revision, revision, dir, 0);
  }

  const client = new HubClient(settings);
  let info;
  try {
    info = await client.modelInfo(repoId, revision, opts.signal);
  } catch (e) {
    if (!(e instanceof HubError) || e.code !== 'network') throw e;
    const hit = lookup();
    if (hit.found) {
      emit({ type: 'warning', message: `${e.message}; using the cached snapshot ${hit.commit.slice(0, 12)} of ${repoId} instead` });
      return fromCache(repoId, revision, hit.commit, hit.dir, client.log.length);
    }
    throw new HubError('network', notCachedMessage(settings, repoId, revision, hit.reason, 'network', e.message, opts.quantized), { cause: e });
  }
  const commit = info.sha;
  if (!COMMIT_HASH.test(commit)) throw new HubError('protocol', `the listing of ${repoId}@${revision} gives commit ${JSON.stringify(commit)}, not a 40-hex git hash`);
  const byName = new Map(info.siblings.map((s) => [s.rfilename, s]));
  let plan;
  try {
    plan = planFiles(repoId, revision, [...byName.keys()], { quantized: opts.quantized });
  } catch (e) {
    if (e instanceof NoOnnxExportError) throw new HubError('no_onnx', e.message);
    throw e;
  }
  emit({ type: 'plan', repoId, revision, commit, files: plan.files.map((path) => ({ path, size: siblingSize(byName.get(path)) })) });

  await mkdir(join(repoDir, 'blobs'), { recursive: true });
  await writeRef(repoDir, revision, commit);
  const snapshot = join(repoDir, 'snapshots', commit);
  const files: PulledFile[] = [];
  for (const path of plan.files) {
    opts.signal?.throwIfAborted();
    const sib = byName.get(path);
    const pointer = join(snapshot, ...path.split('/'));
    const have = usableSize(pointer);
    const want = siblingSize(sib);
    if (have !== null && (want === null || want === have)) {
      emit({ type: 'file', path, size: have, state: 'cached' });
      files.push({ path, size: have, downloaded: false });
      continue;
    }
    // Pin the commit so every file comes from the same revision even if the branch moves meanwhile.
    const meta = await client.fileMetadata(repoId, commit, path, opts.signal);
    if (meta.commit !== commit) throw new HubError('protocol', `${path}: the listing says commit ${commit} but the resolve URL answered X-Repo-Commit ${meta.commit}`);
    const expected: ExpectedContent = { size: meta.size };
    if (meta.lfs) {
      const fromHeader = /^[0-9a-f]{64}$/.test(meta.etag) ? meta.etag : undefined;
      const fromListing = sib?.lfs?.sha256;
      if (fromHeader && fromListing && fromHeader !== fromListing) {
        throw new HubError('protocol', `${path} of ${repoId}@${commit.slice(0, 12)}: the listing says sha256 ${fromListing} but the resolve URL says ${fromHeader}`);
      }
      expected.sha256 = fromHeader ?? fromListing;
    } else if (sib?.blobId && /^[0-9a-f]{40}$/.test(sib.blobId)) {
      expected.gitOid = sib.blobId;
    }
    if (want !== null && want !== meta.size) {
      throw new HubError('protocol', `${path} of ${repoId}@${commit.slice(0, 12)}: the listing says ${want} bytes but the resolve URL says ${meta.size}`);
    }
    const blob = join(repoDir, 'blobs', meta.etag);
    if (usableSize(blob) !== meta.size) {
      const release = await acquireLock(join(locksDir(settings.cacheDir, repoId), `${meta.etag}.crossgate.lock`), {
        staleMs: opts.lockStaleMs,
        signal: opts.signal,
        onWait: (holder) => emit({ type: 'wait', path, holder }),
      });
      try {
        // Another process may have finished this blob while we waited for its lock.
        if (usableSize(blob) !== meta.size) {
          emit({ type: 'file', path, size: meta.size, state: 'downloading' });
          const part = `${blob}.incomplete`;
          await client.download(repoId, meta, part, expected, {
            retries: opts.retries,
            retryDelayMs: opts.retryDelayMs,
            signal: opts.signal,
            onBytes: (done, total) => emit({ type: 'bytes', path, done, total }),
          });
          await rename(part, blob);
          files.push({ path, size: meta.size, downloaded: true });
        } else {
          files.push({ path, size: meta.size, downloaded: false });
        }
      } finally {
        await release();
      }
    } else {
      files.push({ path, size: meta.size, downloaded: false });
    }
    await linkBlob(repoDir, commit, path, meta.etag);
    emit({ type: 'file', path, size: meta.size, state: 'done' });
  }
  if (!existsSync(snapshot)) await mkdir(snapshot, { recursive: true });
  return { repoId, revision, commit, dir: snapshot, files, source: 'network', requests: client.log.length };
}
