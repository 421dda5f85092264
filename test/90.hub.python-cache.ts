// Builds a Hugging Face hub cache the way Python's huggingface_hub leaves it, for tests that need a
// cached repo id without a download (the hub tests, the CLI and server repo-id tests). Not a test file itself.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** The snapshot commit pythonCache writes (refs/main points at it). */
export const PY_COMMIT = '0123456789abcdef0123456789abcdef01234567';
/** An older snapshot pythonCache also writes, holding only config.json (a transformers-only download). */
export const PY_OLD_COMMIT = 'fedcba9876543210fedcba9876543210fedcba98';

/**
 * Lays `files` of the model directory `src` out under the hub cache folder `cache` ($HF_HOME/hub) as
 * huggingface_hub does for `repoId`: content-addressed blobs, relative symlinks, refs/main, plus the
 * bookkeeping Python leaves (.no_exist, .locks). Returns the snapshot directory.
 */
export function pythonCache(cache: string, repoId: string, src: string, files: string[]): string {
  const repoDir = join(cache, 'models--' + repoId.replace('/', '--'));
  for (const f of files) {
    const data = readFileSync(join(src, f));
    const etag = f.endsWith('.onnx') ? createHash('sha256').update(data).digest('hex') : createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
    const blob = join(repoDir, 'blobs', etag);
    mkdirSync(dirname(blob), { recursive: true });
    writeFileSync(blob, data);
    const pointer = join(repoDir, 'snapshots', PY_COMMIT, f);
    mkdirSync(dirname(pointer), { recursive: true });
    symlinkSync(relative(dirname(pointer), blob), pointer);
  }
  // An older snapshot from a transformers-only download (no ONNX), and the bookkeeping Python leaves.
  mkdirSync(join(repoDir, 'snapshots', PY_OLD_COMMIT), { recursive: true });
  writeFileSync(join(repoDir, 'snapshots', PY_OLD_COMMIT, 'config.json'), '{}');
  mkdirSync(join(repoDir, '.no_exist', PY_COMMIT), { recursive: true });
  writeFileSync(join(repoDir, '.no_exist', PY_COMMIT, 'added_tokens.json'), '');
  mkdirSync(join(repoDir, 'refs'), { recursive: true });
  writeFileSync(join(repoDir, 'refs', 'main'), PY_COMMIT);
  mkdirSync(join(cache, '.locks', 'models--' + repoId.replace('/', '--')), { recursive: true });
  writeFileSync(join(cache, '.locks', 'models--' + repoId.replace('/', '--'), 'leftover.lock'), '');
  return join(repoDir, 'snapshots', PY_COMMIT);
}
