// resolveModelRef: what every --model flag goes through. A path on disk is used as is; "org/name[@rev]"
// resolves to a snapshot in the hub cache without touching the network (pull is the only downloader).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { findCachedSnapshot } from './cache.js';
import { HubError } from './errors.js';
import { notCachedMessage } from './pull.js';
import { looksLikeRepoRef, parseRepoRef } from './repo-id.js';
import { hubSettings, type SettingsOverrides } from './settings.js';

export interface ResolveModelOptions extends SettingsOverrides {
  /** Require a quantized ONNX file in the snapshot. */
  quantized?: boolean;
}

/** True when `ref` is not a path on disk and has the shape of a hub repo id. */
export function isRepoRef(ref: string): boolean {
  return !existsSync(ref) && looksLikeRepoRef(ref);
}

/**
 * A model directory for `ref`: the path itself when it exists (or does not look like a repo id, so the
 * loader can explain it), else the cached snapshot of the repo id. Throws HubError ('offline' or
 * 'not_cached') saying what is missing and how to get it.
 */
export function resolveModelRef(ref: string, opts: ResolveModelOptions = {}): string {
  if (!isRepoRef(ref)) return resolve(ref);
  const settings = hubSettings(opts);
  const { repoId, revision, explicitRevision } = parseRepoRef(ref);
  const hit = findCachedSnapshot(settings.cacheDir, repoId, revision, { quantized: opts.quantized, explicitRevision });
  if (hit.found) return hit.dir;
  if (settings.offline) throw new HubError('offline', notCachedMessage(settings, repoId, revision, hit.reason, 'offline', '', opts.quantized));
  throw new HubError('not_cached', notCachedMessage(settings, repoId, revision, hit.reason, 'not_pulled', '', opts.quantized));
}
