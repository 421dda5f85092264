// The hub client: pull models from a Hugging Face hub (or mirror) into the shared cache, list and remove
// them, and resolve "org/name[@rev]" references to model directories.
export { HubClient, verifyFile, type FileMetadata, type ModelInfo, type Sibling } from './client.js';
export { checkSnapshot, findCachedSnapshot, repoCacheDir } from './cache.js';
// Listing needs the model loader (to tell each snapshot's kind), so it lives one room up.
export { describeCachedModel, listCachedModels, removeCachedModel, type CachedModel, type CachedSnapshot } from '../cached-models.js';
export { HubError, type HubErrorCode } from './errors.js';
export { planFiles, type FilePlan } from './files.js';
export { pullModel, type PullEvent, type PullOptions, type PullResult } from './pull.js';
export { isRepoRef, resolveModelRef, type ResolveModelOptions } from './resolve.js';
export { looksLikeRepoRef, parseRepoRef, repoFolderName, type RepoRef } from './repo-id.js';
export { hubCacheDir, hubSettings, type HubSettings } from './settings.js';
