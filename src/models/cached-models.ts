// What the hub cache holds, model by model: snapshots, refs, size, and the kind of the current snapshot
// (found by loading it). Kept out of hub/cache.ts because the kind needs the model loader, which itself
// resolves hub ids through the cache: model-dir -> hub/resolve -> hub/cache stays one-way.
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { checkSnapshot, listFilesRecursive, locksDir, readRef, repoCacheDir, snapshotMtime, type SnapshotCheck } from './hub/cache.js';
import { repoIdFromFolder } from './hub/repo-id.js';
import { loadModelDir, type ModelKind } from './model-dir.js';

export interface CachedSnapshot {
  commit: string;
  dir: string;
  /** refs/* that point at this commit. */
  refs: string[];
  files: string[];
  check: SnapshotCheck;
}

export interface CachedModel {
  repoId: string;
  dir: string;
  /** Bytes of blobs on disk (what `models rm` frees). */
  sizeBytes: number;
  refs: Record<string, string>;
  snapshots: CachedSnapshot[];
  /** The snapshot refs/main points at, else the newest one. */
  current: CachedSnapshot | null;
  kind: ModelKind | null;
  /** Why the kind is unknown or the current snapshot cannot be loaded. */
  problem: string | null;
  onnx: { fp32: boolean; quantized: boolean };
}

function readRefs(repoDir: string): Record<string, string> {
  const refsDir = join(repoDir, 'refs');
  const out: Record<string, string> = {};
  for (const f of existsSync(refsDir) ? listFilesRecursive(refsDir) : []) {
    const c = readRef(repoDir, f);
    if (c) out[f] = c;
  }
  return out;
}

function blobBytes(repoDir: string): number {
  let total = 0;
  const blobs = join(repoDir, 'blobs');
  for (const f of existsSync(blobs) ? readdirSync(blobs) : []) {
    if (f.endsWith('.incomplete')) continue; // a resumable partial download, not part of any model yet
    try {
      const st = lstatSync(join(blobs, f));
      if (st.isFile()) total += st.size;
    } catch {
      // raced with a removal
    }
  }
  // Snapshots made by copying (no symlinks) hold real files; count those too.
  const snaps = join(repoDir, 'snapshots');
  for (const s of existsSync(snaps) ? readdirSync(snaps) : []) {
    for (const f of listFilesRecursive(join(snaps, s))) {
      try {
        const st = lstatSync(join(snaps, s, ...f.split('/')));
        if (st.isFile()) total += st.size;
      } catch {
        // raced
      }
    }
  }
  return total;
}


/** One cached repo, or null when the cache holds no folder for it. */
export function describeCachedModel(cacheDir: string, repoId: string): CachedModel | null {
  const dir = repoCacheDir(cacheDir, repoId);
  if (!existsSync(dir)) return null;
  const refs = readRefs(dir);
  const snapsDir = join(dir, 'snapshots');
  const snapshots: CachedSnapshot[] = (existsSync(snapsDir) ? readdirSync(snapsDir) : [])
    .filter((c) => !c.includes('.tmp-'))
    .map((commit) => {
      const sdir = join(snapsDir, commit);
      const files = listFilesRecursive(sdir);
      const fp32 = checkSnapshot(sdir);
      const check = fp32.complete ? fp32 : checkSnapshot(sdir, { quantized: true }).complete ? checkSnapshot(sdir, { quantized: true }) : fp32;
      return { commit, dir: sdir, refs: Object.keys(refs).filter((r) => refs[r] === commit), files, check };
    })
    .sort((a, b) => snapshotMtime(b.dir) - snapshotMtime(a.dir));
  const current = snapshots.find((s) => s.refs.includes('main')) ?? snapshots[0] ?? null;
  let kind: ModelKind | null = null;
  let problem: string | null = null;
  const onnx = { fp32: false, quantized: false };
  if (current) {
    onnx.fp32 = checkSnapshot(current.dir).complete;
    onnx.quantized = checkSnapshot(current.dir, { quantized: true }).complete;
    try {
      kind = loadModelDir(current.dir, { quantized: !onnx.fp32 && onnx.quantized }).kind;
    } catch (e) {
      problem = (e as Error).message.replace(`model dir ${current.dir}: `, '');
    }
  } else {
    problem = 'no snapshot';
  }
  return { repoId, dir, sizeBytes: blobBytes(dir), refs, snapshots, current, kind, problem, onnx };
}

/** Every model repo in the cache, by repo id. */
export function listCachedModels(cacheDir: string): CachedModel[] {
  if (!existsSync(cacheDir)) return [];
  return readdirSync(cacheDir)
    .map((f) => repoIdFromFolder(f))
    .filter((id): id is string => id !== null)
    .sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()))
    .map((id) => describeCachedModel(cacheDir, id))
    // A folder with no snapshot file is no model (only partial downloads, or an empty skeleton): not listed.
    .filter((m): m is CachedModel => m !== null && m.snapshots.some((s) => s.files.length > 0));
}

/** Deletes a repo's cache folder and its lock folder. Returns the bytes freed, or null when not cached. */
export async function removeCachedModel(cacheDir: string, repoId: string): Promise<number | null> {
  const m = describeCachedModel(cacheDir, repoId);
  if (!m) return null;
  await rm(m.dir, { recursive: true, force: true });
  await rm(locksDir(cacheDir, repoId), { recursive: true, force: true });
  return m.sizeBytes;
}
