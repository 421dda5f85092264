// src/index: vector search over the native flat index, and BM25 keyword search over the native inverted index.
// Import from here or from './vector-index.js' / './keyword-index.js'.
export { VectorIndex, MAX_DIM, type SearchHit, type VectorIndexOptions, type VectorStorage } from './vector-index.js';
export { KeywordIndex, MAX_QUERY_TERMS, type KeywordDocument, type KeywordIndexOptions, type KeywordIndexStats } from './keyword-index.js';
