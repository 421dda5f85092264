// Hub repository references: "org/name" or "org/name@revision", validated the way the hub validates
// repo ids, and the cache folder name huggingface_hub derives from them (models--org--name).

export interface RepoRef {
  /** "org/name". */
  repoId: string;
  /** Branch, tag or 40-hex commit; 'main' when the reference named none. */
  revision: string;
  /** True when the reference carried an explicit @revision. */
  explicitRevision: boolean;
}

const PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$/;
export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** Why `repoId` is not a valid "org/name" id, or null when it is. */
export function repoIdProblem(repoId: string): string | null {
  const parts = repoId.split('/');
  if (parts.length !== 2) return `expected "org/name" (one slash), e.g. cross-encoder/ms-marco-MiniLM-L-6-v2`;
  for (const p of parts) {
    if (!PART.test(p)) return `"${p}" may hold only letters, digits, '.', '_' and '-', and must not start or end with '.' or '-'`;
    if (p.includes('--') || p.includes('..')) return `"${p}" must not contain "--" or ".."`;
  }
  return null;
}

/** Parses "org/name[@revision]"; throws naming the input and the expected form. */
export function parseRepoRef(ref: string, revision?: string): RepoRef {
  const at = ref.indexOf('@');
  const repoId = at >= 0 ? ref.slice(0, at) : ref;
  const inlineRev = at >= 0 ? ref.slice(at + 1) : undefined;
  const problem = repoIdProblem(repoId);
  if (problem) throw new Error(`"${ref}" is not a hub repo id: ${problem}`);
  if (inlineRev !== undefined && revision !== undefined && inlineRev !== revision) {
    throw new Error(`"${ref}" names revision ${inlineRev} but --revision is ${revision}; give one of them`);
  }
  const rev = revision ?? inlineRev;
  if (rev !== undefined && (rev === '' || /\s|\.\./.test(rev))) throw new Error(`revision "${rev}" of ${repoId} is not a branch, tag or commit name`);
  return { repoId, revision: rev ?? 'main', explicitRevision: rev !== undefined };
}

/** True when `ref` has the shape of a repo id (it may still also be a relative path on disk). */
export function looksLikeRepoRef(ref: string): boolean {
  const at = ref.indexOf('@');
  return repoIdProblem(at >= 0 ? ref.slice(0, at) : ref) === null;
}

/** huggingface_hub's repo_folder_name for model repos. */
export function repoFolderName(repoId: string): string {
  return 'models--' + repoId.split('/').join('--');
}

/** The inverse of repoFolderName, or null for folders that are not model repos. */
export function repoIdFromFolder(folder: string): string | null {
  if (!folder.startsWith('models--')) return null;
  const parts = folder.slice('models--'.length).split('--');
  return parts.length === 2 && parts.every((p) => p.length > 0) ? parts.join('/') : parts.length === 1 && parts[0] ? parts[0] : null;
}
