// The tokenize room: tokenizer.json loading, pair encoding policy, truncation, padding.
export { Tokenizer, SYNC_ENCODE_MAX_CHARS } from './tokenizer.js';
export type { EncodeOptions, TextInput, TokenSpan, TruncationSide, TruncationStrategy } from './tokenizer.js';
export { padBatch, padRows } from './pad.js';
export type { EncodedBatch, PaddedTensors, RaggedEncoding, RowRef } from './pad.js';
