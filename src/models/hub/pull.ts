// `models pull`: list the repo at a revision, choose the files crossgate needs, and fetch each into the
// shared cache (blob by etag, locked, resumed, verified), then link the snapshot and write refs/{revision}.
import { existsSync, statSync } from 'node:fs';
import { lstat, mkdir, readdir, rename, rmdir, unlink } from 'node:fs/promises';
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

  const client = new HubClient(settings, { retries: opts.retries, retryDelayMs: opts.retryDelayMs });
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
  let plan: ReturnType<typeof planFiles>;
  try {
    plan = planFiles(repoId, revision, [...byName.keys()], { quantized: opts.quantized });
  } catch (e) {
    if (e instanceof NoOnnxExportError) throw new HubError('no_onnx', e.message);
    throw e;
  }
  emit({ type: 'plan', repoId, revision, commit, files: plan.files.map((path) => ({ path, size: siblingSize(byName.get(path)) })) });

  const snapshot = join(repoDir, 'snapshots', commit);
  const files: PulledFile[] = [];
  const undo = new PullUndo(settings.cacheDir, repoId, snapshot);
  try {
    await undo.mkdir(join(repoDir, 'blobs'));
    await fetchFiles();
    // The ref goes last: until every file is in place the cache does not claim this revision.
    await writeRef(repoDir, revision, commit);
  } catch (e) {
    await undo.run();
    throw e;
  }
  if (!existsSync(snapshot)) await mkdir(snapshot, { recursive: true });
  return { repoId, revision, commit, dir: snapshot, files, source: 'network', requests: client.log.length };

  async function fetchFiles(): Promise<void> {
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
          undo.downloaded(blob);
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
    if (have === null) undo.linked(pointer);
    await linkBlob(repoDir, commit, path, meta.etag);
    emit({ type: 'file', path, size: meta.size, state: 'done' });
  }
  }
}

/**
 * What a pull added to the cache, so that a failed or refused pull (gated repo, checksum mismatch, a
 * network failure past the retries) leaves the cache as it found it: no refs, no snapshot links, no
 * folders that were not there, so `models list` shows no phantom model. What it keeps is resumable:
 * partial downloads stay `blobs/<etag>.incomplete` (not counted in the size `models list` shows), and a
 * blob this pull completed goes back to `<etag>.incomplete`, whole, so the next pull verifies it instead
 * of downloading it again.
 */
class PullUndo {
  readonly #dirs: string[] = [];
  readonly #links: string[] = [];
  readonly #blobs: string[] = [];
  readonly #top: string[];

  constructor(cacheDir: string, repoId: string, snapshot: string) {
    // Folders the pull may create, outermost first; the ones that were missing are removed if left empty.
    const repoDir = repoCacheDir(cacheDir, repoId);
    this.#top = [repoDir, join(repoDir, 'snapshots'), snapshot, join(cacheDir, '.locks'), locksDir(cacheDir, repoId)].filter((d) => !existsSync(d));
  }

  async mkdir(dir: string): Promise<void> {
    if (!existsSync(dir)) this.#dirs.push(dir);
    await mkdir(dir, { recursive: true });
  }

  linked(pointer: string): void { this.#links.push(pointer); }
  downloaded(blob: string): void { this.#blobs.push(blob); }

  async run(): Promise<void> {
    for (const p of this.#links) await unlink(p).catch(() => undefined);
    for (const b of this.#blobs) await rename(b, `${b}.incomplete`).catch(() => undefined);
    // Innermost first: a snapshot's sub-folders (onnx/, 1_Pooling/) before the snapshot itself.
    const dirs = [...this.#top, ...this.#dirs].sort((a, b) => b.length - a.length);
    for (const d of dirs) await removeEmptyTree(d);
  }
}

/** Removes `dir` and its sub-folders if they hold no file at all. */
async function removeEmptyTree(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(dir, n);
    try {
      if ((await lstat(p)).isDirectory()) await removeEmptyTree(p);
    } catch { /* raced */ }
  }
  await rmdir(dir).catch(() => undefined); // fails, as it should, when something is left in it
}
