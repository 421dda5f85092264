// The seeded workloads every trial draws from, so any two runs (and any two contenders) see the same bytes:
// (a) realistic RAG rerank, (b) fixed shapes, (c) vectors for the index.
import { COMMON_WORDS, DEMO_WORDS } from '../../models/words.js';

/** mulberry32: small, fast, and identical on every platform. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal by Box-Muller. */
export function normal(next: () => number): number {
  const u = Math.max(next(), 1e-12);
  const v = next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

const WORDS = `${DEMO_WORDS} ${COMMON_WORDS}`.split(/\s+/).filter((w) => w.length > 0 && /^[a-z]+$/.test(w));

/**
 * About `tokens` WordPiece tokens of English-looking text: sentences of 6-18 words, a capital first
 * letter, a comma now and then and a full stop. Every word is a whole token of the generated
 * vocabularies and each punctuation mark is one token, so the count is exact for those tokenizers.
 */
export function sentenceText(next: () => number, tokens: number): string {
  const out: string[] = [];
  let left = Math.max(1, tokens);
  while (left > 0) {
    const len = Math.min(left - 1 > 0 ? left - 1 : 1, 6 + Math.floor(next() * 13));
    const words: string[] = [];
    for (let i = 0; i < len; i++) {
      let w = WORDS[Math.floor(next() * WORDS.length)];
      if (i === 0) w = w[0].toUpperCase() + w.slice(1);
      words.push(w);
    }
    left -= len;
    // A comma inside a long sentence, when there is room for it.
    if (len >= 8 && left > 1 && next() < 0.5) {
      const at = 2 + Math.floor(next() * (len - 4));
      words[at] += ',';
      left -= 1;
    }
    if (left > 0) { out.push(words.join(' ') + '.'); left -= 1; } else out.push(words.join(' '));
  }
  return out.join(' ');
}

export interface RagQuery { query: string; passages: string[] }
export interface RagWorkload {
  seed: number;
  queries: RagQuery[];
  /** Intended token lengths (without special tokens), for the report; the tokenizer gives the real ones. */
  queryTokens: number[];
  passageTokens: number[];
}

export const RAG_QUERY_TOKENS = { min: 5, max: 20 } as const;
/** Lognormal passage lengths: median 110 tokens, sigma 0.6, clipped to 30..400. */
export const RAG_PASSAGE_TOKENS = { min: 30, max: 400, median: 110, sigma: 0.6 } as const;

/**
 * (a) Realistic RAG rerank: queries of 5-20 tokens (uniform), each with `candidates` passages of
 * 30-400 tokens drawn lognormally (median 110), in retrieval order (no sorting by length).
 */
export function ragWorkload(nQueries: number, opts: { seed?: number; candidates?: number } = {}): RagWorkload {
  const seed = opts.seed ?? 20240501;
  const candidates = opts.candidates ?? 100;
  const next = rng(seed);
  const queries: RagQuery[] = [];
  const queryTokens: number[] = [];
  const passageTokens: number[] = [];
  for (let q = 0; q < nQueries; q++) {
    const qt = RAG_QUERY_TOKENS.min + Math.floor(next() * (RAG_QUERY_TOKENS.max - RAG_QUERY_TOKENS.min + 1));
    queryTokens.push(qt);
    const query = sentenceText(next, qt).replace(/\.$/, '?');
    const passages: string[] = [];
    for (let p = 0; p < candidates; p++) {
      const raw = Math.exp(Math.log(RAG_PASSAGE_TOKENS.median) + RAG_PASSAGE_TOKENS.sigma * normal(next));
      const pt = Math.round(Math.min(RAG_PASSAGE_TOKENS.max, Math.max(RAG_PASSAGE_TOKENS.min, raw)));
      passageTokens.push(pt);
      passages.push(sentenceText(next, pt));
    }
    queries.push({ query, passages });
  }
  return { seed, queries, queryTokens, passageTokens };
}

/** (b) Fixed shapes: sequence lengths x batch sizes. */
export const FIXED_SEQ_LENS = [32, 128, 256] as const;
export const FIXED_BATCHES = [1, 8, 32] as const;

/**
 * Pairs that encode to exactly `seqLen` tokens once truncated to seqLen (query of 8 tokens, passage
 * longer than needed): feed them with maxLength = seqLen.
 */
export function fixedShapePairs(seqLen: number, batch: number, seed = 7): { query: string; passages: string[] } {
  const next = rng(seed * 1000 + seqLen * 10 + batch);
  const query = sentenceText(next, 8);
  const passages = Array.from({ length: batch }, () => sentenceText(next, seqLen + 16));
  return { query, passages };
}

/** (c) Vectors for the index: n unit vectors of `dim` floats, Gaussian then L2-normalised. */
export function unitVectors(n: number, dim: number, seed: number): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(n * dim);
  for (let r = 0; r < n; r++) {
    let ss = 0;
    const base = r * dim;
    for (let c = 0; c < dim; c += 2) {
      // Box-Muller gives two normals per draw.
      const u = Math.max(next(), 1e-12);
      const v = next();
      const m = Math.sqrt(-2 * Math.log(u));
      const a = m * Math.cos(2 * Math.PI * v);
      out[base + c] = a;
      ss += a * a;
      if (c + 1 < dim) {
        const b = m * Math.sin(2 * Math.PI * v);
        out[base + c + 1] = b;
        ss += b * b;
      }
    }
    const inv = 1 / Math.sqrt(ss);
    for (let c = 0; c < dim; c++) out[base + c] *= inv;
  }
  return out;
}
