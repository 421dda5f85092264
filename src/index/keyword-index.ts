// KeywordIndex: BM25 keyword search (Lucene's formula and English analyzer) over the native inverted index.
// Validates every argument here; the native side checks again and does the work.
import { removeStaleSaveSiblings } from './atomic-dir.js';
import { loadNative, type NativeHits, type NativeKeywordIndex, type NativeKeywordIndexConstructor, type NativeKeywordOptions } from '../native.js';
import type { SearchHit } from './vector-index.js';

export interface KeywordIndexOptions {
  /**
   * 'english' (default): Lucene's EnglishAnalyzer chain — possessive filter, English stop set, Porter stemmer.
   * 'none': tokenize, lowercase and fold only (any language; no stemming, no default stop words).
   */
  language?: 'english' | 'none';
  /** Porter stemming (english only). Default true. */
  stem?: boolean;
  /** Fold accents and Latin ligatures (é -> e, ß -> ss) after lowercasing. Default true. */
  foldAccents?: boolean;
  /** Drop a trailing 's (english only), as Lucene's EnglishPossessiveFilter. Default true. */
  possessive?: boolean;
  /** 'default' (Lucene's 33 English stop words for english, none for 'none'), 'none', or your own list. */
  stopWords?: 'default' | 'none' | string[];
  /** BM25 term-frequency saturation. Default 1.2 (Lucene). */
  k1?: number;
  /** BM25 length normalisation, 0..1. Default 0.75 (Lucene). */
  b?: number;
  /** How much a title term counts against a text term (BM25F field weight). Default 1: title + text score as one field. */
  titleWeight?: number;
  /** Quantise document lengths to one byte as Lucene does (scores equal Lucene's). Default true; false uses exact lengths. */
  luceneNorms?: boolean;
}

export interface KeywordDocument {
  id: number;
  text: string;
  title?: string;
}

export interface KeywordIndexStats {
  documents: number;
  terms: number;
  /** (term, document) pairs. */
  postings: number;
  /** Bytes of the delta + varint coded postings. */
  postingsBytes: number;
  /** Estimated resident bytes: postings, dictionary, per-document arrays. */
  memoryBytes: number;
  /** Average document length in terms (title weighted), after stop words. */
  averageLength: number;
}

/** A query analysed into more terms than this is rejected (the native kMaxQueryTerms). */
export const MAX_QUERY_TERMS = 10000;

function nativeClass(): NativeKeywordIndexConstructor {
  return loadNative().NativeKeywordIndex as NativeKeywordIndexConstructor;
}

function describe(v: unknown): string {
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'string') return `'${v}'`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

function checkOptions(opts: unknown): NativeKeywordOptions {
  if (opts === undefined) return {};
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw new TypeError(`options must be an object; got ${describe(opts)}`);
  const o = opts as Record<string, unknown>;
  const known = new Set(['language', 'stem', 'foldAccents', 'possessive', 'stopWords', 'k1', 'b', 'titleWeight', 'luceneNorms']);
  for (const key of Object.keys(o)) {
    if (!known.has(key)) throw new RangeError(`options.${key} is not a keyword index option; known: ${[...known].join(', ')}`);
  }
  if (o.language !== undefined && o.language !== 'english' && o.language !== 'none') {
    throw new RangeError(`options.language is ${describe(o.language)}; use 'english' or 'none'`);
  }
  for (const key of ['stem', 'foldAccents', 'possessive', 'luceneNorms']) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw new TypeError(`options.${key} must be a boolean; got ${describe(o[key])}`);
  }
  const sw = o.stopWords;
  if (sw !== undefined && sw !== 'default' && sw !== 'none') {
    if (!Array.isArray(sw)) throw new TypeError(`options.stopWords must be 'default', 'none' or an array of strings; got ${describe(sw)}`);
    sw.forEach((w, i) => {
      if (typeof w !== 'string' || w.length === 0) throw new TypeError(`options.stopWords[${i}] is ${describe(w)}; expected a non-empty string`);
    });
  }
  const num = (key: string, lo: number, hi: number, loOpen: boolean, def: string): void => {
    const v = o[key];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || (loOpen ? v <= lo : v < lo) || v > hi) {
      throw new RangeError(`options.${key} is ${describe(v)}; expected a number ${loOpen ? 'above' : 'from'} ${lo} ${hi === Infinity ? 'up' : `to ${hi}`} (default ${def})`);
    }
  };
  num('k1', 0, Infinity, false, '1.2');
  num('b', 0, 1, false, '0.75');
  num('titleWeight', 0, 1000, true, '1');
  return o as NativeKeywordOptions;
}

function checkK(k: unknown): number {
  if (typeof k !== 'number') throw new TypeError(`k must be a number; got ${describe(k)}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k is ${describe(k)}; k must be a positive integer`);
  return k;
}

function checkId(id: unknown, where: string): number {
  if (typeof id !== 'number') throw new TypeError(`${where} must be a number; got ${describe(id)}`);
  if (!Number.isSafeInteger(id) || id < 0) throw new RangeError(`${where} is ${describe(id)}; ids must be integers from 0 to 2^53 - 1`);
  return id;
}

function checkQuery(query: unknown): string {
  if (typeof query !== 'string') throw new TypeError(`query must be a string; got ${describe(query)}`);
  return query;
}

function toHits(h: NativeHits): SearchHit[] {
  const out: SearchHit[] = new Array(h.ids.length);
  for (let i = 0; i < h.ids.length; i++) out[i] = { id: h.ids[i], score: h.scores[i] };
  return out;
}

export class KeywordIndex {
  #native: NativeKeywordIndex;

  constructor(opts?: KeywordIndexOptions) {
    this.#native = new (nativeClass())(checkOptions(opts));
  }

  get count(): number {
    return this.#native.count;
  }

  /** The settings in force (defaults filled in); stored in the index file. */
  get options(): Required<KeywordIndexOptions> {
    return this.#native.options() as Required<KeywordIndexOptions>;
  }

  stats(): KeywordIndexStats {
    return this.#native.stats();
  }

  /** The terms the analyzer makes of `text`, in order (what gets indexed or searched). */
  analyze(text: string): string[] {
    if (typeof text !== 'string') throw new TypeError(`text must be a string; got ${describe(text)}`);
    return this.#native.analyze(text);
  }

  /** Analyses and indexes the documents, all or nothing, on a worker thread. Ids must be new. */
  async add(docs: readonly KeywordDocument[]): Promise<void> {
    if (!Array.isArray(docs)) throw new TypeError(`documents must be an array of {id, text, title?}; got ${describe(docs)}`);
    const ids = new Float64Array(docs.length);
    const titles: string[] = new Array(docs.length);
    const texts: string[] = new Array(docs.length);
    const seen = new Map<number, number>();
    docs.forEach((d, i) => {
      if (d === null || typeof d !== 'object') throw new TypeError(`documents[${i}] is ${describe(d)}; expected {id, text, title?}`);
      ids[i] = checkId(d.id, `documents[${i}].id`);
      const prev = seen.get(d.id);
      if (prev !== undefined) throw new RangeError(`documents[${i}].id = ${d.id} repeats documents[${prev}].id; ids must be unique`);
      seen.set(d.id, i);
      if (this.#native.has(d.id)) throw new RangeError(`documents[${i}].id = ${d.id} is already in the index; remove it first or use a new id`);
      if (typeof d.text !== 'string') throw new TypeError(`documents[${i}].text is ${describe(d.text)}; expected a string`);
      if (d.title !== undefined && typeof d.title !== 'string') throw new TypeError(`documents[${i}].title is ${describe(d.title)}; expected a string when given`);
      titles[i] = d.title ?? '';
      texts[i] = d.text;
    });
    if (docs.length > 0) await this.#native.add(ids, titles, texts);
  }

  /** Removes the ids that are present (unknown ones are skipped); returns how many were removed. One pass over the postings per call: batch removals. */
  remove(ids: readonly number[]): number {
    if (!Array.isArray(ids)) throw new TypeError(`ids must be an array of numbers; got ${describe(ids)}`);
    const arr = new Float64Array(ids.length);
    ids.forEach((id, i) => (arr[i] = checkId(id, `ids[${i}]`)));
    return this.#native.remove(arr);
  }

  has(id: number): boolean {
    return this.#native.has(checkId(id, 'id'));
  }

  /** Exact top-k by BM25, best first; only documents sharing a term with the query. Blocks the thread. */
  searchSync(query: string, k: number): SearchHit[] {
    return toHits(this.#native.searchSync(checkQuery(query), checkK(k)));
  }

  /** searchSync on a libuv worker thread. */
  async search(query: string, k: number): Promise<SearchHit[]> {
    return toHits(await this.#native.search(checkQuery(query), checkK(k)));
  }

  /**
   * Atomic: temp file beside path, fsync, rename. A failed save keeps the old file; temporaries left by
   * a save whose process died are removed here and by load().
   */
  async save(path: string): Promise<void> {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError(`path must be a non-empty string; got ${describe(path)}`);
    await removeStaleSaveSiblings(path, { includeOld: false });
    await this.#native.save(path);
  }

  /** Loads a file written by save(); a truncated or corrupt file is an error (code ERR_CROSSGATE_INDEX_CORRUPT) naming the file and the defect. */
  static async load(path: string): Promise<KeywordIndex> {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError(`path must be a non-empty string; got ${describe(path)}`);
    const native = await nativeClass().load(path);
    await removeStaleSaveSiblings(path, { includeOld: false });
    const index = new KeywordIndex(); // a small empty native index, replaced at once
    index.#native = native;
    return index;
  }
}
