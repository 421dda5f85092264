// Leftovers of atomic saves. VectorIndex.save writes `<file>.tmp-<pid>-<hex>` and renames it over the
// file; Collection.save builds `<dir>.tmp-<pid>-<hex>` and moves the old directory aside as
// `<dir>.old-<pid>-<hex>`. A process killed mid-save leaves those siblings behind; the next save or
// load of the same path removes the ones whose process is gone. A live process's are kept: it may
// still be writing them. The check is by pid on this host, so a pid reused by an unrelated live
// process keeps a stale temporary until that process exits (safe, just late).
import { readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { processAlive } from '../platform.js';

/** `<name>.tmp-<pid>-<hex>` (a save's new copy) or `<name>.old-<pid>-<hex>` (the copy a save replaces). */
const SIBLING = /^(.*)\.(tmp|old)-(\d+)-([0-9a-f]+)$/;

export interface SaveSibling {
  path: string;
  kind: 'tmp' | 'old';
  pid: number;
  mtimeMs: number;
}

/** The save siblings of `target` in its parent directory, oldest first; [] when the parent cannot be read. */
export async function saveSiblings(target: string): Promise<SaveSibling[]> {
  const parent = dirname(target);
  const base = basename(target);
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return [];
  }
  const out: SaveSibling[] = [];
  for (const name of names) {
    const m = SIBLING.exec(name);
    if (!m || m[1] !== base) continue;
    const path = join(parent, name);
    try {
      out.push({ path, kind: m[2] as 'tmp' | 'old', pid: Number(m[3]), mtimeMs: (await stat(path)).mtimeMs });
    } catch { /* gone meanwhile */ }
  }
  return out.sort((a, b) => a.mtimeMs - b.mtimeMs);
}

/**
 * Removes the siblings of `target` left by saves whose process is gone. Temporaries (`.tmp-`) are never
 * the only copy of anything: a save that died before its final rename never returned, so its data was
 * never promised. Set-aside copies (`.old-`) are removed only with `includeOld`, which the caller passes
 * once `target` itself is complete again (otherwise the `.old-` copy is what it recovers from).
 * Best effort: a sibling that cannot be removed (permissions, a read-only mount) is left and not an error.
 * Returns the paths removed.
 */
export async function removeStaleSaveSiblings(target: string, opts: { includeOld: boolean }): Promise<string[]> {
  const removed: string[] = [];
  for (const s of await saveSiblings(target)) {
    if (s.kind === 'old' && !opts.includeOld) continue;
    if (processAlive(s.pid)) continue;
    try {
      await rm(s.path, { recursive: true, force: true });
      removed.push(s.path);
    } catch { /* left for a later save */ }
  }
  return removed;
}
