// Tokenizer: loads a BERT-family tokenizer.json into the native WordPiece tokenizer and encodes batches.
// Output matches the reference `tokenizers` package id for id; large batches are encoded off the JS thread.
import { readFileSync } from 'node:fs';
import { loadNative, type NativeRaggedEncoding, type NativeTokenizer, type NativeTokenizerConstructor } from '../native.js';
import { padBatch, type EncodedBatch, type RaggedEncoding } from './pad.js';
import { spansOf, vocabOf, type TokenSpan, type Vocab } from './spans.js';

export type { EncodedBatch, RaggedEncoding } from './pad.js';
export type { TokenSpan } from './spans.js';
export type TruncationStrategy = 'longest_first' | 'only_second';
export type TruncationSide = 'right' | 'left';

export interface EncodeOptions {
  /** Tokens per item, special tokens included; default: tokenizer.maxLength. Infinity disables truncation. */
  maxLength?: number;
  /** How a pair is shortened; default 'longest_first' (the reference's algorithm). */
  truncation?: TruncationStrategy;
  /** Which end is cut; default 'right'. */
  side?: TruncationSide;
  /** Also return each token's UTF-8 byte offsets (starts/stops); off by default, the batch path never pays for it. */
  offsets?: boolean;
}

export type TextInput = string | Buffer | Uint8Array;

/**
 * Below this many UTF-16 units (all texts and pairs together) encodeRagged runs on the JS thread:
 * queueing a libuv worker and hopping back costs more than encoding a few KB.
 */
export const SYNC_ENCODE_MAX_CHARS = 16 * 1024;

const STRATEGIES: readonly string[] = ['longest_first', 'only_second'];
const SIDES: readonly string[] = ['right', 'left'];

interface ResolvedOptions { maxLength: number; truncation: TruncationStrategy; side: TruncationSide; offsets: boolean }

export class Tokenizer {
  readonly #native: NativeTokenizer;
  /** Where this tokenizer came from (a path or the label given to fromJSON); prefixes load errors. */
  readonly source: string;
  /** tokenizer.json truncation.max_length, else 512. */
  readonly maxLength: number;
  /** padding.pad_id, else the id of [PAD], else 0. */
  readonly padId: number;
  /** The tokenizer.json text, kept for the id -> token string table that spans() builds on first use. */
  readonly #json: string;
  #vocab: Vocab | null = null;

  private constructor(native: NativeTokenizer, source: string, json: string) {
    this.#native = native;
    this.#json = json;
    this.source = source;
    this.maxLength = native.maxLength;
    this.padId = native.padId;
  }

  /** Reads a tokenizer.json; the error names the unsupported component and its JSON path. */
  static fromFile(path: string): Tokenizer {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`cannot read tokenizer.json at ${path}: ${(e as Error).message}`);
    }
    return Tokenizer.fromJSON(text, path);
  }

  static fromJSON(json: string, source = 'tokenizer.json'): Tokenizer {
    if (typeof json !== 'string') throw new TypeError(`'json' must be the text of a tokenizer.json, got ${typeof json}`);
    const ctor = loadNative().NativeTokenizer as NativeTokenizerConstructor;
    return new Tokenizer(new ctor(json, source), source, json);
  }

  /** Special tokens the post-processor adds to a single text (pair=false) or a pair. */
  specialTokenCount(pair: boolean): number {
    return this.#native.specialTokenCount(pair);
  }

  encode(text: TextInput, pair?: TextInput | null, opts?: EncodeOptions): { ids: number[]; typeIds: number[]; truncated: boolean } {
    const r = this.encodeRaggedSync([text], pair === undefined || pair === null ? null : [pair], opts);
    return { ids: Array.from(r.ids), typeIds: Array.from(r.typeIds), truncated: r.truncated[0] === 1 };
  }

  encodeRaggedSync(texts: TextInput[], pairs?: TextInput[] | null, opts?: EncodeOptions): RaggedEncoding {
    const o = this.#resolve(texts, pairs, opts);
    try {
      return this.#native.encodeSync(texts, pairs ?? null, o.maxLength, o.truncation, o.side, o.offsets);
    } catch (e) {
      throw renameItem(e, pairs != null);
    }
  }

  async encodeRagged(texts: TextInput[], pairs?: TextInput[] | null, opts?: EncodeOptions): Promise<RaggedEncoding> {
    const o = this.#resolve(texts, pairs, opts);
    let size = 0;
    for (const t of texts) size += t.length;
    if (pairs) for (const t of pairs) size += t.length;
    try {
      const r: NativeRaggedEncoding = size <= SYNC_ENCODE_MAX_CHARS
        ? this.#native.encodeSync(texts, pairs ?? null, o.maxLength, o.truncation, o.side, o.offsets)
        : await this.#native.encodeAsync(texts, pairs ?? null, o.maxLength, o.truncation, o.side, o.offsets);
      return r;
    } catch (e) {
      throw renameItem(e, pairs != null);
    }
  }

  /**
   * Each text's tokens with their vocabulary strings and UTF-8 byte offsets, untruncated; without special
   * tokens when `addSpecialTokens` is false. Long inputs are encoded off the event loop.
   */
  async spans(texts: string[], addSpecialTokens: boolean): Promise<TokenSpan[][]> {
    this.#vocab ??= vocabOf(this.#json);
    const vocab = this.#vocab;
    const specials = this.specialTokenCount(false);
    const enc = await this.encodeRagged(texts, null, { maxLength: Infinity, offsets: true });
    const { starts, stops } = enc;
    if (!starts || !stops) throw new Error('crossgate: the native tokenizer returned no offsets; rebuild it with `npm run build:native`');
    return texts.map((_, item) => {
      let from = enc.offsets[item], to = enc.offsets[item + 1];
      // The post-processor's tokens sit at the ends ([CLS] ... [SEP]); without them only the text's own remain.
      if (!addSpecialTokens && specials > 0) { from += 1; to -= specials - 1; }
      return spansOf(vocab, enc.ids, starts, stops, from, to);
    });
  }

  /** Tokens per item (text, or text + pair) as encoded with `opts`. */
  async countTokens(texts: TextInput[], pairs: TextInput[] | null, opts?: EncodeOptions): Promise<Int32Array> {
    return lengthsOf(await this.encodeRagged(texts, pairs, opts));
  }

  countTokensSync(texts: TextInput[], pairs: TextInput[] | null, opts?: EncodeOptions): Int32Array {
    return lengthsOf(this.encodeRaggedSync(texts, pairs, opts));
  }

  /** Encodes and pads every item to the longest one. */
  async encodeBatch(texts: TextInput[], pairs?: TextInput[] | null, opts?: EncodeOptions): Promise<EncodedBatch> {
    const r = await this.encodeRagged(texts, pairs, opts);
    const rows = new Int32Array(r.count);
    for (let i = 0; i < r.count; i++) rows[i] = i;
    return padBatch(r, rows, this.padId);
  }

  #resolve(texts: TextInput[], pairs: TextInput[] | null | undefined, opts: EncodeOptions | undefined): ResolvedOptions {
    if (!Array.isArray(texts)) throw new TypeError(`'texts' must be an array of strings or Buffers, got ${typeof texts}`);
    if (pairs != null) {
      if (!Array.isArray(pairs)) throw new TypeError(`'pairs' must be an array of strings or Buffers, or null`);
      if (pairs.length !== texts.length) {
        throw new RangeError(`'pairs' has ${pairs.length} items but 'texts' has ${texts.length}; pass one pair per text`);
      }
    }
    const maxLength = opts?.maxLength ?? this.maxLength;
    const truncation = opts?.truncation ?? 'longest_first';
    const side = opts?.side ?? 'right';
    if (typeof maxLength !== 'number' || !(maxLength === Infinity || (Number.isInteger(maxLength) && maxLength >= 1))) {
      throw new RangeError(`'maxLength' must be a positive integer or Infinity, got ${String(maxLength)}`);
    }
    const special = this.#native.specialTokenCount(pairs != null);
    if (maxLength < special) {
      throw new RangeError(
        `'maxLength' is ${maxLength} but every ${pairs != null ? 'pair' : 'text'} gets ${special} special tokens; pass maxLength >= ${special + 1}`);
    }
    if (!STRATEGIES.includes(truncation)) {
      throw new TypeError(`'truncation' must be 'longest_first' or 'only_second', got ${JSON.stringify(truncation)}`);
    }
    if (!SIDES.includes(side)) throw new TypeError(`'side' must be 'right' or 'left', got ${JSON.stringify(side)}`);
    const offsets = opts?.offsets ?? false;
    if (typeof offsets !== 'boolean') throw new TypeError(`'offsets' must be true or false, got ${JSON.stringify(offsets)}`);
    return { maxLength, truncation, side, offsets };
  }
}

function lengthsOf(r: RaggedEncoding): Int32Array {
  const out = new Int32Array(r.count);
  for (let i = 0; i < r.count; i++) out[i] = r.offsets[i + 1] - r.offsets[i];
  return out;
}

/** The core numbers items; callers know them as texts[i] (and pairs[i]). */
function renameItem(e: unknown, pairs: boolean): unknown {
  if (e instanceof Error) {
    const m = /^item (\d+): /.exec(e.message);
    if (m) e.message = `${pairs ? `texts[${m[1]}] + pairs[${m[1]}]` : `texts[${m[1]}]`}: ${e.message.slice(m[0].length)}`;
  }
  return e;
}
