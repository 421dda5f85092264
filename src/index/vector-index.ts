// VectorIndex: exact inner-product (cosine on normalised vectors) search over the native flat index.
// Validates and normalises every argument here; the native side checks again and does the work.
import { removeStaleSaveSiblings } from './atomic-dir.js';
import { loadNative, type NativeHits, type NativeVectorIndex, type NativeVectorIndexConstructor } from '../native.js';

export type VectorStorage = 'f32' | 'f16' | 'int8';
export interface SearchHit { id: number; score: number }
export interface VectorIndexOptions {
  dim: number;
  /**
   * How rows are stored. 'f32' is exact. 'f16' halves memory (recall@10 1.000 vs f32 on random
   * 384-d unit vectors). 'int8' quarters it with a symmetric per-row scale (recall@10 0.984).
   */
  storage?: VectorStorage;
}

const STORAGES: readonly VectorStorage[] = ['f32', 'f16', 'int8'];
/** Embedding widths above this are no model we know of; the file format bounds rows by it too. */
export const MAX_DIM = 65536;

function nativeClass(): NativeVectorIndexConstructor {
  return loadNative().NativeVectorIndex as NativeVectorIndexConstructor;
}

function describe(v: unknown): string {
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'string') return `'${v}'`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  return typeof v;
}

function checkK(k: unknown): number {
  if (typeof k !== 'number') throw new TypeError(`k must be a number; got ${describe(k)}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k is ${describe(k)}; k must be a positive integer`);
  return k;
}

function checkId(id: unknown, where: string): number {
  if (typeof id !== 'number') throw new TypeError(`${where} must be a number; got ${describe(id)}`);
  if (!Number.isSafeInteger(id) || id < 0) {
    throw new RangeError(`${where} is ${describe(id)}; ids must be integers from 0 to 2^53 - 1 (Number.MAX_SAFE_INTEGER)`);
  }
  return id;
}

function toIdArray(ids: unknown, name: string): Float64Array {
  if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) throw new TypeError(`${name} must be an array of numbers; got ${describe(ids)}`);
  const list = ids as ArrayLike<unknown>;
  const out = new Float64Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = checkId(list[i], `${name}[${i}]`);
  return out;
}

/**
 * Copies `value` (a vector of `dim` numbers) into out at offset, checking length and finiteness.
 * `where` names it in errors, e.g. "vectors[3]".
 */
function copyRow(value: unknown, dim: number, out: Float32Array, offset: number, where: string): void {
  if (!Array.isArray(value) && !(value instanceof Float32Array) && !(value instanceof Float64Array)) {
    throw new TypeError(`${where} must be a Float32Array or an array of numbers; got ${describe(value)}`);
  }
  const row = value as ArrayLike<unknown>;
  if (row.length !== dim) throw new RangeError(`${where} has ${row.length} values; the index dim is ${dim}`);
  for (let c = 0; c < dim; c++) {
    const x = row[c];
    if (typeof x !== 'number') throw new TypeError(`${where}[${c}] is ${describe(x)}; every value must be a number`);
    out[offset + c] = x;
    // Checked after the float32 conversion: a finite double like 1e39 becomes Infinity.
    if (!Number.isFinite(out[offset + c])) {
      const shown = Number.isFinite(x) ? `${x}, which overflows float32` : describe(x);
      throw new RangeError(`${where}[${c}] is ${shown}; every value must be finite`);
    }
  }
}

function toHits(h: NativeHits, from: number, to: number): SearchHit[] {
  const out: SearchHit[] = new Array(to - from);
  for (let i = from; i < to; i++) out[i - from] = { id: h.ids[i], score: h.scores[i] };
  return out;
}

export class VectorIndex {
  readonly dim: number;
  readonly storage: VectorStorage;
  #native: NativeVectorIndex;

  constructor(opts: VectorIndexOptions) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError(`options must be an object like { dim: 384 }; got ${describe(opts)}`);
    const { dim, storage = 'f32' } = opts;
    if (typeof dim !== 'number') throw new TypeError(`dim must be a number; got ${describe(dim)}`);
    if (!Number.isInteger(dim) || dim < 1 || dim > MAX_DIM) {
      throw new RangeError(`dim is ${describe(dim)}; dim must be an integer from 1 to ${MAX_DIM}`);
    }
    if (!STORAGES.includes(storage)) throw new RangeError(`storage is ${describe(storage)}; use 'f32', 'f16' or 'int8'`);
    this.dim = dim;
    this.storage = storage;
    this.#native = new (nativeClass())(dim, storage);
  }

  /** The SIMD level the kernels run at: 'avx512' | 'avx2' | 'neon' | 'scalar'. CROSSGATE_SIMD forces one. */
  static get simdLevel(): string {
    return nativeClass().simdLevel();
  }

  get count(): number {
    return this.#native.count;
  }

  /** Bytes held by the stored vectors, ids and scales. */
  get vectorBytes(): number {
    return this.#native.vectorBytes;
  }

  /**
   * Adds vectors under the given ids, all or nothing. `vectors` is one row per id (Float32Array or
   * number[] each) or one flat Float32Array of ids.length * dim values.
   */
  add(ids: number[], vectors: Float32Array | Float32Array[] | number[][]): void {
    const idArr = toIdArray(ids, 'ids');
    const n = idArr.length;
    const seen = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const first = seen.get(idArr[i]);
      if (first !== undefined) throw new RangeError(`ids[${i}] = ${idArr[i]} repeats ids[${first}]; ids must be unique`);
      seen.set(idArr[i], i);
      if (this.#native.has(idArr[i])) {
        throw new RangeError(`ids[${i}] = ${idArr[i]} is already in the index; remove it first or use a new id`);
      }
    }
    let flat: Float32Array;
    if (vectors instanceof Float32Array) {
      if (vectors.length !== n * this.dim) {
        throw new RangeError(`vectors has ${vectors.length} values; ${n} ids x dim ${this.dim} needs ${n * this.dim}`);
      }
      // The native side scans for NaN/Inf with the same vectors[row][col] message; no second copy here.
      flat = vectors;
    } else {
      if (!Array.isArray(vectors)) throw new TypeError(`vectors must be a Float32Array or an array of rows; got ${describe(vectors)}`);
      if (vectors.length !== n) throw new RangeError(`vectors has ${vectors.length} rows but ids has ${n}; pass one row per id`);
      flat = new Float32Array(n * this.dim);
      for (let r = 0; r < n; r++) copyRow(vectors[r], this.dim, flat, r * this.dim, `vectors[${r}]`);
    }
    if (n > 0) this.#native.add(idArr, flat);
  }

  /** Removes the ids that are present; unknown ids are skipped. Returns how many were removed. */
  remove(ids: number[]): number {
    return this.#native.remove(toIdArray(ids, 'ids'));
  }

  has(id: number): boolean {
    return this.#native.has(checkId(id, 'id'));
  }

  #query(query: Float32Array | number[]): Float32Array {
    const q = new Float32Array(this.dim);
    copyRow(query, this.dim, q, 0, 'query');
    return q;
  }

  /** Exact top-k by inner product, best first, ties to the lower id; fewer than k when count < k. Blocks the thread. */
  searchSync(query: Float32Array | number[], k: number): SearchHit[] {
    const q = this.#query(query);
    const h = this.#native.searchSync(q, checkK(k));
    return toHits(h, 0, h.ids.length);
  }

  /** searchSync on a libuv worker thread; safe to call while add()/remove() run. */
  async search(query: Float32Array | number[], k: number): Promise<SearchHit[]> {
    const q = this.#query(query);
    const h = await this.#native.search(q, checkK(k));
    return toHits(h, 0, h.ids.length);
  }

  /** Top-k for each query; the scan reads each block of stored rows once for a group of queries. */
  async searchBatch(queries: Float32Array[] | number[][], k: number): Promise<SearchHit[][]> {
    if (!Array.isArray(queries)) throw new TypeError(`queries must be an array of query vectors; got ${describe(queries)}`);
    checkK(k);
    const nq = queries.length;
    if (nq === 0) return [];
    const flat = new Float32Array(nq * this.dim);
    for (let i = 0; i < nq; i++) copyRow(queries[i], this.dim, flat, i * this.dim, `queries[${i}]`);
    const h = await this.#native.searchBatch(flat, k);
    const out: SearchHit[][] = new Array(nq);
    for (let i = 0; i < nq; i++) out[i] = toHits(h, i * h.k, (i + 1) * h.k);
    return out;
  }

  /**
   * Atomic: writes a temp file beside path, fsyncs, renames over path. A failed save keeps the old file;
   * temp files left by saves killed mid-write (their process gone) are removed here and at load().
   */
  async save(path: string): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError(`path must be a non-empty string; got ${describe(path)}`);
    await removeStaleSaveSiblings(path, { includeOld: false });
    await this.#native.save(path);
  }

  /** Loads a file written by save(); a truncated or corrupt file is an error naming the file and the defect. */
  static async load(path: string): Promise<VectorIndex> {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError(`path must be a non-empty string; got ${describe(path)}`);
    const native = await nativeClass().load(path);
    await removeStaleSaveSiblings(path, { includeOld: false });
    const index = new VectorIndex({ dim: native.dim, storage: native.storage });
    index.#native = native;
    return index;
  }
}
