// A document collection: string-id documents embedded with a BiEncoder into the native VectorIndex and/or
// indexed for BM25 in the native KeywordIndex, persisted as a directory (index files + manifest + documents
// JSONL) that reloads with the same model. Retrieval modes: dense, keyword, hybrid (reciprocal rank fusion).
import { l2normalize, squaredNorm } from '../index/vector-math.js';
import { processAlive } from '../platform.js';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { VectorIndex, type VectorStorage } from '../index/vector-index.js';
import { KeywordIndex, type KeywordIndexOptions } from '../index/keyword-index.js';
import { removeStaleSaveSiblings, saveSiblings } from '../index/atomic-dir.js';
import type { Embedder } from './ports.js';
import type { RetrievalMode, RetrievedCandidate, RetrieveOptions, Retriever } from './ports.js';

/** A document to index. `metadata` travels with it and comes back on every hit. */
export interface CollectionDocument {
  id: string;
  text: string;
  metadata?: Record<string, unknown>;
}

/** One retrieval hit: the document plus its cosine similarity to the query. */
export interface RetrievedDocument extends CollectionDocument {
  score: number;
}

export interface CollectionOptions {
  /** Vector storage of the index: 'f16' halves memory, 'int8' quarters it at a small recall cost. Default 'f32'. */
  storage?: VectorStorage;
  /**
   * The BM25 keyword index beside the vectors: true (default) with the default English analyzer, an options
   * object to configure it, or false for a dense-only collection. A string `metadata.title` is indexed as the title field.
   */
  keyword?: boolean | KeywordIndexOptions;
}

/** The RRF rank constant: 60, as Elasticsearch and LangChain use (Cormack et al. 2009). */
export const RRF_K = 60;

export interface AddOptions {
  /**
   * Texts embedded per call. Bounds how much one call tokenizes and holds in memory, and sets how
   * often onProgress fires; the infer layer still splits each call by its token budget.
   */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** The on-disk description of a collection (collection.json). */
export interface CollectionManifest {
  format: typeof MANIFEST_FORMAT;
  version: number;
  /** null for a keyword-only collection. */
  biEncoder: { name: string; dim: number; dir: string; maxLength: number } | null;
  storage: VectorStorage | null;
  /** The keyword index's settings; absent (collections from before it) or null when there is none. */
  keyword?: Required<KeywordIndexOptions> | null;
  count: number;
  nextId: number;
  createdAt: string;
}

const MANIFEST_FORMAT = 'crossgate-collection';
const FORMAT_VERSION = 1;
const MANIFEST_FILE = 'collection.json';
const DOCUMENTS_FILE = 'documents.jsonl';
const VECTORS_FILE = 'vectors.cgvi';
const KEYWORD_FILE = 'keyword.cgki';
const DEFAULT_BATCH_SIZE = 64;
/** Keyword-only collections have no model call to bound; a larger batch only sets how often progress fires. */
const KEYWORD_BATCH_SIZE = 4096;

interface StoredDocument extends CollectionDocument {
  key: number; // the numeric id inside the VectorIndex
}

function describeDoc(i: number): string {
  return `documents[${i}]`;
}

/** Checks one document's shape; returns it normalised (metadata omitted when absent). */
function checkDocument(doc: unknown, i: number): CollectionDocument {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new TypeError(`${describeDoc(i)} is ${doc === null ? 'null' : Array.isArray(doc) ? 'an array' : typeof doc}; expected an object {id: string, text: string, metadata?: object}`);
  }
  const d = doc as Record<string, unknown>;
  if (typeof d.id !== 'string' || d.id.length === 0) {
    throw new TypeError(`${describeDoc(i)}.id is ${typeof d.id === 'string' ? 'empty' : typeof d.id}; expected a non-empty string`);
  }
  if (typeof d.text !== 'string') {
    throw new TypeError(`${describeDoc(i)}.text (id "${d.id}") is ${typeof d.text}; expected a string`);
  }
  if (d.metadata !== undefined && (d.metadata === null || typeof d.metadata !== 'object' || Array.isArray(d.metadata))) {
    throw new TypeError(`${describeDoc(i)}.metadata (id "${d.id}") must be a plain object when given`);
  }
  const out: CollectionDocument = { id: d.id, text: d.text };
  if (d.metadata !== undefined) out.metadata = d.metadata as Record<string, unknown>;
  return out;
}

/** Written into a collection directory by save(); anything else there makes save() refuse to replace it. */
const COLLECTION_FILES = new Set([MANIFEST_FILE, DOCUMENTS_FILE, VECTORS_FILE, KEYWORD_FILE]);

/**
 * Test hook, like the index's CROSSGATE_FAULT_SAVE_AFTER_BYTES: CROSSGATE_FAULT_COLLECTION_SAVE=<step>
 * makes save() fail right after that step; <step>:kill SIGKILLs the process there instead, as a crash would.
 */
function faultPoint(step: 'vectors' | 'keyword' | 'documents' | 'manifest' | 'synced' | 'aside' | 'swapped'): void {
  const fault = process.env.CROSSGATE_FAULT_COLLECTION_SAVE;
  if (!fault) return;
  const [at, action] = fault.split(':');
  if (at !== step) return;
  if (action === 'kill') process.kill(process.pid, 'SIGKILL');
  throw new Error(`collection save failed after step "${step}" (injected by CROSSGATE_FAULT_COLLECTION_SAVE)`);
}

/** Writes and fsyncs a file, so it is on disk before the directory that holds it is swapped in. */
async function writeDurable(path: string, data: string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync of a directory makes the names in it (created, renamed) durable. Windows cannot open one for it. */
async function syncDir(path: string): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if (process.platform === 'win32') return;
    throw e;
  }
  try {
    await fh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR') throw e;
  } finally {
    await fh.close();
  }
}

/**
 * A save() that died between moving the old directory aside and moving the new one into place leaves
 * no directory at `target` but a complete `<target>.old-*`: put it back. The save never returned, so
 * its caller holds no promise that the new contents landed.
 */
async function recoverInterruptedSave(target: string): Promise<void> {
  if (existsSync(target)) return;
  const old = (await saveSiblings(target)).filter((s) => s.kind === 'old' && !processAlive(s.pid) && existsSync(join(s.path, MANIFEST_FILE)));
  const latest = old[old.length - 1];
  if (!latest) return;
  try {
    await rename(latest.path, target);
  } catch (e) {
    throw new Error(`collection ${target} is missing after an interrupted save; the previous copy is in ${latest.path} (${(e as Error).message}); rename it back to ${target}`);
  }
  await syncDir(dirname(target)).catch(() => undefined);
}

/**
 * Leftovers of saves whose process is gone (src/index/atomic-dir.ts): temporaries always, set-aside
 * copies once `target` holds a complete collection again.
 */
async function removeStaleSiblings(target: string): Promise<void> {
  await removeStaleSaveSiblings(target, { includeOld: existsSync(join(target, MANIFEST_FILE)) });
}

/** One documents.jsonl line. add() takes any plain object as metadata, so a BigInt or a cycle fails here. */
function serialise(d: StoredDocument): string {
  try {
    return JSON.stringify(d);
  } catch (e) {
    throw new TypeError(`document ${JSON.stringify(d.id)} cannot be saved: its metadata is not JSON (${(e as Error).message}); store plain JSON values in metadata`);
  }
}

function damaged(dir: string, what: string): Error {
  return new Error(`collection ${dir} is damaged: ${what}; rebuild it (\`crossgate index build --force\`, or Collection.save() from the source documents)`);
}

/** A document's title for the keyword index: a string metadata.title (BEIR corpora carry one), else none. */
function titleOf(d: CollectionDocument): string {
  const t = d.metadata?.title;
  return typeof t === 'string' ? t : '';
}

function checkWeights(w: RetrieveOptions['weights']): { dense: number; keyword: number } {
  const out = { dense: 1, keyword: 1 };
  if (w === undefined) return out;
  if (w === null || typeof w !== 'object') throw new TypeError(`weights must be an object like {dense: 1, keyword: 2}; got ${typeof w}`);
  for (const [key, v] of Object.entries(w)) {
    if (key !== 'dense' && key !== 'keyword') throw new RangeError(`weights.${key} is not a retrieval list; use dense and keyword`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`weights.${key} is ${String(v)}; expected a finite number >= 0 (default 1)`);
    out[key] = v;
  }
  return out;
}

export class Collection implements Retriever {
  readonly name = 'collection';
  readonly modes: readonly RetrievalMode[];
  readonly #encoder: Embedder | null;
  readonly #index: VectorIndex | null;
  readonly #keyword: KeywordIndex | null;
  readonly #byId = new Map<string, StoredDocument>();
  readonly #byKey = new Map<number, StoredDocument>();
  #nextKey = 0;

  private constructor(encoder: Embedder | null, index: VectorIndex | null, keyword: KeywordIndex | null) {
    this.#encoder = encoder;
    this.#index = index;
    this.#keyword = keyword;
    const modes: RetrievalMode[] = [];
    if (index) modes.push('dense');
    if (keyword) modes.push('keyword');
    if (index && keyword) modes.push('hybrid');
    this.modes = modes;
  }

  /** An empty collection whose vectors come from `encoder`, with a BM25 keyword index beside them unless keyword is false. */
  static create(encoder: Embedder, opts: CollectionOptions = {}): Collection {
    const kw = opts.keyword ?? true;
    const keyword = kw === false ? null : new KeywordIndex(kw === true ? undefined : kw);
    return new Collection(encoder, new VectorIndex({ dim: encoder.dim, storage: opts.storage ?? 'f32' }), keyword);
  }

  /** An empty keyword-only collection (BM25, no bi-encoder). */
  static createKeyword(opts: KeywordIndexOptions = {}): Collection {
    return new Collection(null, null, new KeywordIndex(opts));
  }

  /** Reads a saved collection's manifest without loading indexes (the CLI uses it to find the bi-encoder). */
  static async readManifest(dir: string): Promise<CollectionManifest> {
    await recoverInterruptedSave(resolve(dir));
    const path = join(dir, MANIFEST_FILE);
    if (!existsSync(path)) {
      throw new Error(`${resolve(dir)} is not a crossgate collection (no ${MANIFEST_FILE}); build one with \`crossgate index build\` or Collection.save()`);
    }
    let manifest: CollectionManifest;
    try {
      manifest = JSON.parse(await readFile(path, 'utf8')) as CollectionManifest;
    } catch (e) {
      throw new Error(`${path} is not valid JSON (${(e as Error).message}); the collection is damaged, rebuild it`);
    }
    if (manifest.format !== MANIFEST_FORMAT) throw new Error(`${path} has format "${String(manifest.format)}"; expected "${MANIFEST_FORMAT}"`);
    if (manifest.version !== FORMAT_VERSION) {
      throw new Error(`${path} is collection format version ${manifest.version}; this crossgate reads version ${FORMAT_VERSION}; rebuild the collection`);
    }
    return manifest;
  }

  /**
   * Loads a collection saved by save(). `encoder` must produce vectors of the dimension the collection
   * was built with; a different model of the same dimension loads but its scores mean nothing. Without an
   * encoder only the keyword index loads (mode 'keyword'), so keyword search needs no model.
   */
  static async load(dir: string, encoder?: Embedder | null): Promise<Collection> {
    const manifest = await Collection.readManifest(dir);
    await removeStaleSiblings(resolve(dir));
    const where = resolve(dir);
    let index: VectorIndex | null = null;
    if (encoder && manifest.biEncoder === null) {
      throw new Error(`collection ${where} is keyword-only (built without a bi-encoder); load it without one, or rebuild it with --bi-encoder for dense search`);
    }
    if (encoder && manifest.biEncoder) {
      if (manifest.biEncoder.dim !== encoder.dim) {
        throw new Error(
          `collection ${where} was built with bi-encoder "${manifest.biEncoder.name}" (dim ${manifest.biEncoder.dim}); ` +
            `the loaded bi-encoder "${encoder.modelName}" has dim ${encoder.dim}; load it with the same bi-encoder (${manifest.biEncoder.dir}) or rebuild the collection`,
        );
      }
      index = await VectorIndex.load(join(dir, VECTORS_FILE));
      if (index.dim !== manifest.biEncoder.dim) {
        throw new Error(`collection ${where}: ${VECTORS_FILE} has dim ${index.dim} but ${MANIFEST_FILE} says ${manifest.biEncoder.dim}; the collection is damaged, rebuild it`);
      }
    }
    const keyword = manifest.keyword ? await KeywordIndex.load(join(dir, KEYWORD_FILE)) : null;
    if (!index && !keyword) {
      throw new Error(`collection ${where} has no keyword index, so it needs its bi-encoder (${manifest.biEncoder?.dir ?? 'none recorded'}) to load`);
    }
    const c = new Collection(index ? encoder ?? null : null, index, keyword);
    const lines = (await readFile(join(dir, DOCUMENTS_FILE), 'utf8')).split('\n');
    const lineOfKey = new Map<number, number>();
    const lineOfId = new Map<string, number>();
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].length === 0) continue;
      const line = `${DOCUMENTS_FILE} line ${i + 1}`;
      let doc: StoredDocument;
      try {
        doc = JSON.parse(lines[i]) as StoredDocument;
      } catch (e) {
        throw damaged(where, `${line} is not valid JSON (${(e as Error).message})`);
      }
      if (doc === null || typeof doc !== 'object' || typeof doc.id !== 'string' || typeof doc.text !== 'string') {
        throw damaged(where, `${line} is not a stored document {key, id, text, metadata?}`);
      }
      const shown = `${line} (id ${JSON.stringify(doc.id)})`;
      if (!Number.isSafeInteger(doc.key) || doc.key < 0) throw damaged(where, `${shown} has key ${JSON.stringify(doc.key)}; expected an integer >= 0`);
      if (lineOfId.has(doc.id)) throw damaged(where, `${shown} repeats the id of line ${lineOfId.get(doc.id)}`);
      if (lineOfKey.has(doc.key)) throw damaged(where, `${shown} repeats key ${doc.key} of line ${lineOfKey.get(doc.key)}`);
      // A key an index lacks would surface only at search time, as a hit nobody can resolve.
      if (index && !index.has(doc.key)) throw damaged(where, `${shown} has key ${doc.key}, which ${VECTORS_FILE} does not hold`);
      if (keyword && !keyword.has(doc.key)) throw damaged(where, `${shown} has key ${doc.key}, which ${KEYWORD_FILE} does not hold`);
      if (doc.key >= manifest.nextId) throw damaged(where, `${shown} has key ${doc.key} but ${MANIFEST_FILE} nextId is ${manifest.nextId}`);
      lineOfId.set(doc.id, i + 1);
      lineOfKey.set(doc.key, i + 1);
      c.#byId.set(doc.id, doc);
      c.#byKey.set(doc.key, doc);
    }
    // Every document's key is in each index and the keys are distinct, so an index holds an entry with no
    // document exactly when it holds more entries than there are documents.
    if (index && index.count !== c.#byId.size) {
      const orphan = index.searchSync(new Float32Array(index.dim), index.count).map((h) => h.id).filter((k) => !c.#byKey.has(k)).sort((a, b) => a - b)[0];
      throw damaged(where, `${VECTORS_FILE} holds ${index.count} vectors but ${DOCUMENTS_FILE} ${c.#byId.size} documents; vector key ${orphan} has no document`);
    }
    if (keyword && keyword.count !== c.#byId.size) {
      throw damaged(where, `${KEYWORD_FILE} holds ${keyword.count} documents but ${DOCUMENTS_FILE} ${c.#byId.size}`);
    }
    c.#nextKey = manifest.nextId;
    return c;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** The vector dimension; 0 for a keyword-only collection. */
  get dim(): number {
    return this.#index?.dim ?? 0;
  }

  /** The bi-encoder; throws for a keyword-only collection. */
  get biEncoder(): Embedder {
    if (!this.#encoder) throw new Error('this collection has no bi-encoder (keyword-only, or loaded without one)');
    return this.#encoder;
  }

  /** The BM25 index, when the collection has one. */
  get keywordIndex(): KeywordIndex | null {
    return this.#keyword;
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  get(id: string): CollectionDocument | undefined {
    const d = this.#byId.get(id);
    return d && publicDoc(d);
  }

  /** Every document, in insertion order. */
  documents(): CollectionDocument[] {
    return [...this.#byId.values()].map(publicDoc);
  }

  /**
   * Embeds and indexes `docs` in every index the collection has. Ids must be new: a duplicate (within
   * `docs` or against the collection) fails before anything is embedded, so a failed call leaves the
   * collection unchanged. Each batch enters the keyword index and the vector index together.
   */
  async add(docs: readonly CollectionDocument[], opts: AddOptions = {}): Promise<void> {
    if (!Array.isArray(docs)) throw new TypeError(`documents must be an array of {id, text, metadata?}; got ${typeof docs}`);
    const batchSize = opts.batchSize ?? (this.#index ? DEFAULT_BATCH_SIZE : KEYWORD_BATCH_SIZE);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize is ${batchSize}; expected a positive integer`);
    const checked = docs.map(checkDocument);
    const seen = new Map<string, number>();
    checked.forEach((d, i) => {
      const prev = seen.get(d.id);
      if (prev !== undefined) throw new Error(`duplicate document id "${d.id}" at documents[${prev}] and documents[${i}]; ids must be unique`);
      if (this.#byId.has(d.id)) throw new Error(`documents[${i}].id "${d.id}" is already in the collection; remove it first or use another id`);
      seen.set(d.id, i);
    });
    const total = checked.length;
    opts.onProgress?.(0, total);
    for (let start = 0; start < total; start += batchSize) {
      const chunk = checked.slice(start, start + batchSize);
      const vectors = this.#index ? (await this.#encoder!.embed(chunk.map((d) => d.text))).map(unit) : null;
      const keys = chunk.map((_, j) => this.#nextKey + j);
      if (this.#keyword) await this.#keyword.add(chunk.map((d, j) => ({ id: keys[j], title: titleOf(d), text: d.text })));
      if (this.#index && vectors) {
        try {
          this.#index.add(keys, vectors);
        } catch (e) {
          this.#keyword?.remove(keys); // keep both indexes holding the same documents
          throw e;
        }
      }
      this.#nextKey += chunk.length;
      chunk.forEach((d, j) => {
        const stored: StoredDocument = { key: keys[j], ...d };
        this.#byId.set(d.id, stored);
        this.#byKey.set(stored.key, stored);
      });
      opts.onProgress?.(Math.min(start + batchSize, total), total);
    }
  }

  /** Removes documents by id from every index; returns how many were present. Unknown ids are ignored. */
  remove(ids: readonly string[]): number {
    const keys: number[] = [];
    for (const id of ids) {
      const d = this.#byId.get(id);
      if (!d) continue;
      keys.push(d.key);
      this.#byId.delete(id);
      this.#byKey.delete(d.key);
    }
    if (keys.length > 0) {
      this.#index?.remove(keys);
      this.#keyword?.remove(keys);
    }
    return keys.length;
  }

  #resolve(key: number): StoredDocument {
    const d = this.#byKey.get(key);
    if (!d) throw new Error(`internal: index returned id ${key} that the collection does not hold`);
    return d;
  }

  async #dense(query: string, k: number): Promise<RetrievedCandidate[]> {
    const [vector] = await this.#encoder!.embed([query]);
    const hits = await this.#index!.search(unit(vector), Math.min(k, this.size));
    return hits.map((h) => ({ ...publicDoc(this.#resolve(h.id)), score: h.score }));
  }

  async #bm25(query: string, k: number): Promise<RetrievedCandidate[]> {
    const hits = await this.#keyword!.search(query, Math.min(k, this.size));
    return hits.map((h) => ({ ...publicDoc(this.#resolve(h.id)), score: h.score }));
  }

  /**
   * The `k` best documents for `query`, best first: by cosine similarity (dense), BM25 (keyword) or fused
   * (hybrid). Default mode: the collection's first (dense when it has vectors, else keyword).
   */
  async search(query: string, k = 5, mode?: RetrievalMode): Promise<RetrievedDocument[]> {
    const hits = await this.retrieve(query, { k, mode });
    return hits.map(({ sources: _sources, ...doc }) => doc);
  }

  /**
   * The Retriever seam. Hybrid runs both lists (k each) and fuses them with reciprocal rank fusion:
   * score = sum over lists of weight / (rrfK + rank); every candidate's `sources` names the lists that
   * found it with its rank and score there.
   */
  async retrieve(query: string, opts: RetrieveOptions): Promise<RetrievedCandidate[]> {
    if (typeof query !== 'string') throw new TypeError(`query is ${typeof query}; expected a string`);
    if (query.trim().length === 0) throw new RangeError('query is empty; pass the text to search for');
    const k = opts?.k;
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`k is ${k}; expected a positive integer (e.g. 5)`);
    const mode = opts.mode ?? this.modes[0];
    if (!this.modes.includes(mode)) {
      throw new RangeError(`mode is "${String(mode)}"; this collection supports ${this.modes.join(', ')}${this.#keyword ? '' : ' (it has no keyword index: rebuild it without --dense-only)'}`);
    }
    const weights = checkWeights(opts.weights);
    const rrfK = opts.rrfK ?? RRF_K;
    if (typeof rrfK !== 'number' || !Number.isFinite(rrfK) || rrfK < 0) throw new RangeError(`rrfK is ${String(rrfK)}; expected a finite number >= 0 (default ${RRF_K})`);
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (this.size === 0) return [];
    if (mode === 'dense') return (await this.#dense(query, k)).map((h, i) => ({ ...h, sources: { dense: { rank: i + 1, score: h.score } } }));
    if (mode === 'keyword') return (await this.#bm25(query, k)).map((h, i) => ({ ...h, sources: { keyword: { rank: i + 1, score: h.score } } }));
    const [dense, keyword] = await Promise.all([this.#dense(query, k), this.#bm25(query, k)]);
    if (opts.signal?.aborted) throw opts.signal.reason;
    return fuse({ dense, keyword }, weights, rrfK).slice(0, k);
  }

  /**
   * Writes the collection to `dir` (created if missing), atomically as a whole: everything goes into a
   * sibling `<dir>.tmp-<pid>-<hex>` and is fsynced, then the old directory is renamed aside, the new one
   * into place, and the old one removed. A failure or crash at any point leaves the old collection or the
   * new one, complete (load() puts the old one back if a crash fell between the two renames). An existing
   * `dir` that holds anything but a collection's files is refused rather than replaced.
   */
  async save(dir: string): Promise<void> {
    const target = resolve(dir);
    const parent = dirname(target);
    await mkdir(parent, { recursive: true });
    await recoverInterruptedSave(target);
    if (existsSync(target)) {
      if (!(await stat(target)).isDirectory()) throw new Error(`${target} is a file; pass a directory path for the collection`);
      const foreign = (await readdir(target)).find((n) => !COLLECTION_FILES.has(n));
      if (foreign !== undefined) {
        throw new Error(`${target} holds ${foreign}, which is not part of a crossgate collection; saving replaces the whole directory, so pass a new or empty one`);
      }
    }
    await removeStaleSiblings(target);

    const suffix = `${process.pid}-${randomBytes(6).toString('hex')}`;
    const tmp = `${target}.tmp-${suffix}`;
    const old = `${target}.old-${suffix}`;
    await mkdir(tmp);
    try {
      if (this.#index) await this.#index.save(join(tmp, VECTORS_FILE)); // fsynced by the index
      faultPoint('vectors');
      if (this.#keyword) await this.#keyword.save(join(tmp, KEYWORD_FILE)); // fsynced by the index
      faultPoint('keyword');
      const docs = [...this.#byId.values()].map(serialise).join('\n');
      await writeDurable(join(tmp, DOCUMENTS_FILE), docs.length > 0 ? docs + '\n' : '');
      faultPoint('documents');
      const enc = this.#index ? this.#encoder : null;
      const manifest: CollectionManifest = {
        format: MANIFEST_FORMAT,
        version: FORMAT_VERSION,
        biEncoder: enc ? { name: enc.modelName, dim: enc.dim, dir: resolve(enc.dir), maxLength: enc.maxLength } : null,
        storage: this.#index?.storage ?? null,
        keyword: this.#keyword ? this.#keyword.options : null,
        count: this.size,
        nextId: this.#nextKey,
        createdAt: new Date().toISOString(),
      };
      await writeDurable(join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
      faultPoint('manifest');
      await syncDir(tmp);
      faultPoint('synced');
    } catch (e) {
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }

    let asideDone = false;
    try {
      if (existsSync(target)) {
        await rename(target, old);
        asideDone = true;
        faultPoint('aside');
      }
      await rename(tmp, target);
    } catch (e) {
      if (asideDone && !existsSync(target)) await rename(old, target).catch(() => undefined);
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }
    await syncDir(parent);
    faultPoint('swapped');
    if (asideDone) await rm(old, { recursive: true, force: true });
  }
}

/**
 * Reciprocal rank fusion (Cormack, Clarke & Büttcher 2009): each list adds weight / (rrfK + rank) for the
 * documents it ranked. Ties go to the better best rank, then to the dense list's order.
 */
export function fuse(
  lists: Partial<Record<'dense' | 'keyword', readonly RetrievedCandidate[]>>,
  weights: { dense: number; keyword: number } = { dense: 1, keyword: 1 },
  rrfK = RRF_K,
): RetrievedCandidate[] {
  const byId = new Map<string, RetrievedCandidate & { best: number; order: number }>();
  let order = 0;
  for (const name of ['dense', 'keyword'] as const) {
    const list = lists[name];
    if (!list) continue;
    list.forEach((hit, i) => {
      const rank = i + 1;
      let c = byId.get(hit.id);
      if (!c) {
        const { sources: _s, score: _score, ...doc } = hit;
        c = { ...doc, score: 0, sources: {}, best: rank, order: order++ };
        byId.set(hit.id, c);
      }
      c.score += weights[name] / (rrfK + rank);
      c.sources![name] = { rank, score: hit.score };
      c.best = Math.min(c.best, rank);
    });
  }
  return [...byId.values()]
    .sort((a, b) => b.score - a.score || a.best - b.best || a.order - b.order)
    .map(({ best: _b, order: _o, ...c }) => c);
}

/**
 * The index ranks by inner product; unit vectors make that the cosine whether or not the model ends
 * in a Normalize module. A zero vector stays zero (it matches nothing rather than becoming NaN).
 */
export function unit(v: Float32Array): Float32Array {
  return Math.abs(squaredNorm(v) - 1) < 1e-6 ? v : l2normalize(v);
}

function publicDoc(d: StoredDocument): CollectionDocument {
  const out: CollectionDocument = { id: d.id, text: d.text };
  if (d.metadata !== undefined) out.metadata = d.metadata;
  return out;
}
