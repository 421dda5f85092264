// The hub cache on disk, laid out exactly as huggingface_hub lays it out so Python and crossgate share it:
// models--{org}--{name}/blobs/{etag}, snapshots/{commit}/{path} -> ../../blobs/{etag}, refs/{revision}.
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { FP32_ONNX, QUANTIZED_ONNX, REQUIRED_FILES } from './files.js';
import { COMMIT_HASH, repoFolderName } from './repo-id.js';

export function repoCacheDir(cacheDir: string, repoId: string): string {
  return join(cacheDir, repoFolderName(repoId));
}

export function locksDir(cacheDir: string, repoId: string): string {
  return join(cacheDir, '.locks', repoFolderName(repoId));
}

/** The commit a revision points at in the cache: itself for a commit hash, else refs/{revision}. */
export function readRef(repoDir: string, revision: string): string | null {
  if (COMMIT_HASH.test(revision)) return revision;
  try {
    const commit = readFileSync(join(repoDir, 'refs', ...revision.split('/')), 'utf8').trim();
    return commit || null;
  } catch {
    return null;
  }
}

/** Writes refs/{revision} atomically (no trailing newline, as huggingface_hub writes it). */
export async function writeRef(repoDir: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const path = join(repoDir, 'refs', ...revision.split('/'));
  if (readRef(repoDir, revision) === commit) return;
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  await writeFile(tmp, commit);
  await rename(tmp, path);
}

/** Every file under `dir`, relative, with '/' separators; symlinks count as files. */
export function listFilesRecursive(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      const p = join(d, n);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return out;
}

/** True when `path` exists and, if a symlink, its blob exists too. */
function fileUsable(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export interface SnapshotCheck {
  complete: boolean;
  /** What the snapshot lacks to be run, e.g. ["tokenizer.json", "onnx/model.onnx (the link points at a missing blob)"]. */
  missing: string[];
}

/** Whether a snapshot holds what crossgate needs to run it (fp32 ONNX, or a quantized one if asked). */
export function checkSnapshot(dir: string, opts: { quantized?: boolean } = {}): SnapshotCheck {
  const missing: string[] = [];
  const describe = (f: string): string => {
    const p = join(dir, ...f.split('/'));
    let link = false;
    try {
      link = lstatSync(p).isSymbolicLink();
    } catch {
      // absent
    }
    return link ? `${f} (its link points at a missing blob)` : f;
  };
  for (const f of REQUIRED_FILES) if (!fileUsable(join(dir, f))) missing.push(describe(f));
  const files = listFilesRecursive(dir);
  if (opts.quantized) {
    const q = files.filter((f) => QUANTIZED_ONNX.test(f) && fileUsable(join(dir, ...f.split('/'))));
    if (q.length === 0) missing.push('a quantized ONNX file (onnx/model_quantized.onnx or similar)');
  } else if (!FP32_ONNX.some((f) => fileUsable(join(dir, ...f.split('/'))))) {
    const dangling = FP32_ONNX.find((f) => files.includes(f));
    missing.push(dangling ? describe(dangling) : FP32_ONNX.join(' or '));
  }
  return { complete: missing.length === 0, missing };
}

/**
 * Makes snapshots/{commit}/{path} point at blobs/{etag} with a relative link, as huggingface_hub does (so
 * the cache can be moved). Where links are not allowed (some Windows setups) it copies the blob.
 */
export async function linkBlob(repoDir: string, commit: string, path: string, etag: string): Promise<string> {
  const pointer = join(repoDir, 'snapshots', commit, ...path.split('/'));
  const blob = join(repoDir, 'blobs', etag);
  await mkdir(dirname(pointer), { recursive: true });
  const target = relative(dirname(pointer), blob);
  const tmp = `${pointer}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    await symlink(target, tmp);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    await copyFile(blob, tmp);
  }
  // rename over an existing pointer replaces the link itself, never the blob it pointed at.
  await rename(tmp, pointer).catch(async (e) => {
    await unlink(tmp).catch(() => undefined);
    throw e;
  });
  return pointer;
}

export function snapshotMtime(dir: string): number {
  try {
    return statSync(dir).mtimeMs;
  } catch {
    return 0;
  }
}

export type SnapshotLookup =
  | { found: true; dir: string; commit: string; viaRef: string | null }
  | { found: false; reason: string };

/**
 * The snapshot directory for `revision` of `repoId` that can be run, with no network access. For a
 * branch or tag it follows refs/{revision}; for 'main' with no ref (a cache copied by hand) it accepts
 * the newest complete snapshot. `reason` says exactly what is missing.
 */
export function findCachedSnapshot(cacheDir: string, repoId: string, revision: string, opts: { quantized?: boolean; explicitRevision?: boolean } = {}): SnapshotLookup {
  const repoDir = repoCacheDir(cacheDir, repoId);
  if (!existsSync(repoDir)) return { found: false, reason: `the cache ${cacheDir} has no ${repoFolderName(repoId)} folder` };
  const commit = readRef(repoDir, revision);
  if (commit) {
    const dir = join(repoDir, 'snapshots', commit);
    if (!existsSync(dir)) return { found: false, reason: `${repoFolderName(repoId)}/${COMMIT_HASH.test(revision) ? '' : `refs/${revision} points at ${commit.slice(0, 12)} but `}snapshots/${commit} does not exist` };
    const check = checkSnapshot(dir, opts);
    if (check.complete) return { found: true, dir, commit, viaRef: COMMIT_HASH.test(revision) ? null : revision };
    if (opts.explicitRevision || revision !== 'main') {
      return { found: false, reason: `snapshot ${commit.slice(0, 12)} (${revision}) in ${repoDir} lacks ${check.missing.join(', ')}` };
    }
    const other = fallbackSnapshot(repoDir, opts);
    if (other) return other;
    return { found: false, reason: `snapshot ${commit.slice(0, 12)} (main) in ${repoDir} lacks ${check.missing.join(', ')}` };
  }
  if (revision === 'main' && !opts.explicitRevision) {
    const other = fallbackSnapshot(repoDir, opts);
    if (other) return other;
  }
  const snaps = existsSync(join(repoDir, 'snapshots')) ? readdirSync(join(repoDir, 'snapshots')) : [];
  return {
    found: false,
    reason: `${repoFolderName(repoId)} has no refs/${revision}${snaps.length ? ` and none of its snapshots (${snaps.map((s) => s.slice(0, 12)).join(', ')}) holds ${opts.quantized ? 'a quantized ONNX file' : 'config.json, tokenizer.json and an ONNX file'}` : ' and no snapshots'}`,
  };
}

function fallbackSnapshot(repoDir: string, opts: { quantized?: boolean }): SnapshotLookup | null {
  const snapsDir = join(repoDir, 'snapshots');
  const snaps = existsSync(snapsDir) ? readdirSync(snapsDir).filter((s) => !s.includes('.tmp-')) : [];
  const complete = snaps
    .map((c) => ({ c, dir: join(snapsDir, c) }))
    .filter((s) => checkSnapshot(s.dir, opts).complete)
    .sort((a, b) => snapshotMtime(b.dir) - snapshotMtime(a.dir) || a.c.localeCompare(b.c));
  return complete.length ? { found: true, dir: complete[0].dir, commit: complete[0].c, viaRef: null } : null;
}
