// Builds the padded, row-major int64 tensors ORT wants from a ragged encoding.
// Rows are chosen by the caller, so the batcher can pad each micro-batch only to its own longest row.
import { endianness } from 'node:os';

/** Unpadded encodings of n items, concatenated. */
export interface RaggedEncoding {
  count: number;
  ids: Int32Array;        // all items' ids, concatenated
  typeIds: Uint8Array;    // parallel to ids
  offsets: Int32Array;    // length count+1; item i = ids[offsets[i] .. offsets[i+1])
  truncated: Uint8Array;  // 1 where the item was cut to maxLength
  starts?: Int32Array;    // with EncodeOptions.offsets only: UTF-8 byte offsets of each token in its own text,
  stops?: Int32Array;     // -1 for special and unknown tokens
}

/** Padded batch, row-major [batchSize, seqLen], ready for ORT int64 tensors. */
export interface EncodedBatch {
  batchSize: number;
  seqLen: number;          // longest row in this batch
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
  lengths: Int32Array;     // real length per row
  truncated: Uint8Array;
}

// Ids are non-negative int32, so on little-endian hosts the low word carries the whole value and the
// int64 tensors can be written through an Int32Array view instead of one BigInt per token.
const LITTLE_ENDIAN = endianness() === 'LE';

/** One row to pad: item `row` of the ragged encoding `enc`. */
export interface RowRef {
  enc: RaggedEncoding;
  row: number;
}

/** The three int64 input tensors of a padded batch, row-major [rows, seqLen]. */
export interface PaddedTensors {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
}

/**
 * Writes `refs` (rows of one or several encodings, e.g. several requests sharing a micro-batch) into
 * padded [refs.length, seqLen] tensors. Every row must be at most seqLen tokens; padding is padId with
 * attention 0 and token type 0.
 */
export function padRows(refs: ArrayLike<RowRef>, seqLen: number, padId: number): PaddedTensors {
  const batchSize = refs.length;
  const total = batchSize * seqLen;
  const inputIds = new BigInt64Array(total);
  const attentionMask = new BigInt64Array(total);
  const tokenTypeIds = new BigInt64Array(total);
  if (LITTLE_ENDIAN) {
    const ids32 = new Int32Array(inputIds.buffer);
    const mask32 = new Int32Array(attentionMask.buffer);
    const types32 = new Int32Array(tokenTypeIds.buffer);
    if (padId !== 0) for (let k = 0; k < total; k++) ids32[2 * k] = padId;
    for (let b = 0; b < batchSize; b++) {
      const { enc, row } = refs[b];
      const start = enc.offsets[row];
      const len = enc.offsets[row + 1] - start;
      let o = 2 * b * seqLen;
      for (let j = 0; j < len; j++, o += 2) {
        ids32[o] = enc.ids[start + j];
        mask32[o] = 1;
        types32[o] = enc.typeIds[start + j];
      }
    }
  } else {
    if (padId !== 0) inputIds.fill(BigInt(padId));
    for (let b = 0; b < batchSize; b++) {
      const { enc, row } = refs[b];
      const start = enc.offsets[row];
      const len = enc.offsets[row + 1] - start;
      for (let j = 0; j < len; j++) {
        const o = b * seqLen + j;
        inputIds[o] = BigInt(enc.ids[start + j]);
        attentionMask[o] = 1n;
        tokenTypeIds[o] = BigInt(enc.typeIds[start + j]);
      }
    }
  }
  return { inputIds, attentionMask, tokenTypeIds };
}

/** Pads enc's items `rows` (indices into enc, any order, repeats allowed) to the longest of them. */
export function padBatch(enc: RaggedEncoding, rows: ArrayLike<number>, padId: number): EncodedBatch {
  if (!Number.isInteger(padId) || padId < 0 || padId > 0x7fffffff) {
    throw new RangeError(`'padId' must be a token id (an integer in [0, 2^31)), got ${padId}`);
  }
  const batchSize = rows.length;
  const lengths = new Int32Array(batchSize);
  const truncated = new Uint8Array(batchSize);
  const refs: RowRef[] = new Array(batchSize);
  let seqLen = 0;
  for (let b = 0; b < batchSize; b++) {
    const r = rows[b];
    if (!Number.isInteger(r) || r < 0 || r >= enc.count) {
      throw new RangeError(`rows[${b}] is ${r}; the encoding holds ${enc.count} items (valid rows are 0..${enc.count - 1})`);
    }
    const len = enc.offsets[r + 1] - enc.offsets[r];
    lengths[b] = len;
    truncated[b] = enc.truncated[r];
    refs[b] = { enc, row: r };
    if (len > seqLen) seqLen = len;
  }
  return { batchSize, seqLen, ...padRows(refs, seqLen, padId), lengths, truncated };
}
