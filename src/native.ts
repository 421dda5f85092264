// Loads the compiled addon (build/Release/crossgate_native.node) and declares the raw Native* types.
// Everything above this file talks to the typed wrappers in src/tokenize and src/index, never to this.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the nearest folder above this file that holds CMakeLists.txt. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'CMakeLists.txt')) && existsSync(join(dir, 'package.json'))) return dir;
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('crossgate: cannot find the package root (CMakeLists.txt) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let cached: any;

/** The raw addon exports. Throws a message that says how to build it when it is missing. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadNative(): any {
  if (cached) return cached;
  const root = packageRoot();
  const candidates = [join(root, 'build', 'Release', 'crossgate_native.node'), join(root, 'build', 'Debug', 'crossgate_native.node')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(`crossgate: the native addon is not built (looked for ${candidates[0]}); run \`npm run build:native\``);
  }
  cached = createRequire(import.meta.url)(found);
  return cached;
}

// ---- NativeTokenizer (native/binding/tokenizer.cpp) -----------------------------------------------
/** Unpadded encodings as the addon returns them; src/tokenize re-exports this shape as RaggedEncoding. */
export interface NativeRaggedEncoding {
  count: number;
  ids: Int32Array;
  typeIds: Uint8Array;
  offsets: Int32Array;
  truncated: Uint8Array;
  /** With offsets=true only: per token, UTF-8 byte offsets into its own text; -1 for special and unknown tokens. */
  starts?: Int32Array;
  stops?: Int32Array;
}
/** One loaded tokenizer.json. Arguments are checked again natively; errors name the argument. */
export interface NativeTokenizer {
  readonly maxLength: number;
  readonly padId: number;
  specialTokenCount(pair: boolean): number;
  encodeSync(
    texts: (string | Uint8Array)[], pairs: (string | Uint8Array)[] | null,
    maxLength: number, truncation: string, side: string, offsets?: boolean,
  ): NativeRaggedEncoding;
  /** Same as encodeSync, on a libuv worker thread (inputs are copied before it starts). */
  encodeAsync(
    texts: (string | Uint8Array)[], pairs: (string | Uint8Array)[] | null,
    maxLength: number, truncation: string, side: string, offsets?: boolean,
  ): Promise<NativeRaggedEncoding>;
}
export interface NativeTokenizerConstructor {
  new (json: string, source: string): NativeTokenizer;
}

// ---- NativeVectorIndex (native/binding/vector_index.cpp) ------------------------------------------
/** Hits of one or more queries, flattened best-first: query q owns [q * k, (q + 1) * k). */
export interface NativeHits {
  ids: Float64Array;
  scores: Float32Array;
  /** Hits per query (min(k, count) at search time); present on search/searchBatch results. */
  k?: number;
}
/** The raw flat inner-product index. Arguments are checked again natively; errors name the argument. */
export interface NativeVectorIndex {
  readonly dim: number;
  readonly storage: 'f32' | 'f16' | 'int8';
  readonly count: number;
  /** Bytes held by vectors, ids and scales (not the id map). */
  readonly vectorBytes: number;
  /** vectors holds ids.length * dim values, row-major. All-or-nothing. */
  add(ids: Float64Array, vectors: Float32Array): void;
  remove(ids: Float64Array): number;
  has(id: number): boolean;
  searchSync(query: Float32Array, k: number): NativeHits;
  /** On a libuv worker; the query is copied first. */
  search(query: Float32Array, k: number): Promise<NativeHits>;
  /** queries holds nq * dim values; each pass over the stored rows serves a block of queries. */
  searchBatch(queries: Float32Array, k: number): Promise<Required<NativeHits>>;
  save(path: string): Promise<void>;
}
export interface NativeVectorIndexConstructor {
  new (dim: number, storage: string): NativeVectorIndex;
  load(path: string): Promise<NativeVectorIndex>;
  /** 'avx512' | 'avx2' | 'neon' | 'scalar' (CROSSGATE_SIMD forces one). */
  simdLevel(): string;
}

// ---- NativeKeywordIndex (native/binding/keyword_index.cpp) ----------------------------------------
/** Analyzer and BM25 settings as the addon takes and reports them; src/index/keyword-index.ts documents each. */
export interface NativeKeywordOptions {
  language?: string;
  stem?: boolean;
  foldAccents?: boolean;
  possessive?: boolean;
  stopWords?: 'default' | 'none' | string[];
  k1?: number;
  b?: number;
  titleWeight?: number;
  luceneNorms?: boolean;
}
export interface NativeKeywordStats {
  documents: number;
  terms: number;
  postings: number;
  postingsBytes: number;
  memoryBytes: number;
  averageLength: number;
}
/** The raw BM25 inverted index. Arguments are checked again natively; errors name the argument. */
export interface NativeKeywordIndex {
  readonly count: number;
  stats(): NativeKeywordStats;
  options(): Required<NativeKeywordOptions>;
  /** On a libuv worker (strings copied first); all-or-nothing. */
  add(ids: Float64Array, titles: string[], texts: string[]): Promise<void>;
  remove(ids: Float64Array): number;
  has(id: number): boolean;
  analyze(text: string): string[];
  searchSync(query: string, k: number): NativeHits;
  search(query: string, k: number): Promise<NativeHits>;
  save(path: string): Promise<void>;
}
export interface NativeKeywordIndexConstructor {
  new (options?: NativeKeywordOptions): NativeKeywordIndex;
  load(path: string): Promise<NativeKeywordIndex>;
}
