// src/index: vector search over the native flat index (later also the keyword index).
// Import from here or from './vector-index.js'.
export { VectorIndex, MAX_DIM, type SearchHit, type VectorIndexOptions, type VectorStorage } from './vector-index.js';
