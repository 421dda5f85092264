// A second real Retriever for the decision-flow tests while the native keyword index is not on main:
// dense retrieval from a Collection, keyword retrieval by Okapi BM25 (k1 1.2, b 0.75, Lucene's idf) over
// the same documents, and hybrid as reciprocal-rank fusion (k 60) of the two lists.
import type { Collection, CollectionDocument } from '../src/pipeline/collection.js';
import type { ListRank, RetrievalMode, RetrievedCandidate, RetrieveOptions, Retriever } from '../src/pipeline/ports.js';

const K1 = 1.2;
const B = 0.75;
const RRF_K = 60;

export function terms(text: string): string[] {
  return text.toLowerCase().normalize('NFKD').replace(/\p{M}+/gu, '').split(/[^\p{L}\p{N}]+/u).filter((t) => t.length > 0);
}

export class Bm25Retriever implements Retriever {
  readonly name: string;
  readonly modes: readonly RetrievalMode[] = ['dense', 'keyword', 'hybrid'];
  readonly #dense: Collection;
  readonly #docs: { doc: CollectionDocument; tf: Map<string, number>; len: number }[] = [];
  readonly #df = new Map<string, number>();
  readonly #avgLen: number;
  /** Every retrieve call, for tests that check what ran. */
  readonly calls: { mode: RetrievalMode; k: number }[] = [];

  constructor(collection: Collection, name = 'bm25-test') {
    this.name = name;
    this.#dense = collection;
    let total = 0;
    for (const doc of collection.documents()) {
      const tf = new Map<string, number>();
      const ts = terms(doc.text);
      for (const t of ts) tf.set(t, (tf.get(t) ?? 0) + 1);
      for (const t of tf.keys()) this.#df.set(t, (this.#df.get(t) ?? 0) + 1);
      this.#docs.push({ doc, tf, len: ts.length });
      total += ts.length;
    }
    this.#avgLen = this.#docs.length > 0 ? total / this.#docs.length : 1;
  }

  /** BM25 over the documents; only documents sharing a term with the query score. */
  keyword(query: string, k: number): RetrievedCandidate[] {
    const n = this.#docs.length;
    const q = [...new Set(terms(query))];
    const scored: { doc: CollectionDocument; score: number }[] = [];
    for (const d of this.#docs) {
      let s = 0;
      for (const t of q) {
        const f = d.tf.get(t);
        if (!f) continue;
        const df = this.#df.get(t) ?? 0;
        const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
        s += (idf * f * (K1 + 1)) / (f + K1 * (1 - B + (B * d.len) / this.#avgLen));
      }
      if (s > 0) scored.push({ doc: d.doc, score: s });
    }
    scored.sort((a, b) => b.score - a.score || (a.doc.id < b.doc.id ? -1 : 1));
    return scored.slice(0, k).map((h, i) => ({ ...h.doc, score: h.score, sources: { keyword: { rank: i + 1, score: h.score } } }));
  }

  async retrieve(query: string, opts: RetrieveOptions): Promise<RetrievedCandidate[]> {
    const mode = opts.mode ?? 'dense';
    this.calls.push({ mode, k: opts.k });
    if (mode === 'keyword') return this.keyword(query, opts.k);
    const dense = (await this.#dense.search(query, opts.k)).map((h, i) => ({ ...h, sources: { dense: { rank: i + 1, score: h.score } } as Partial<Record<'dense' | 'keyword', ListRank>> }));
    if (mode === 'dense') return dense;
    const fused = new Map<string, RetrievedCandidate>();
    for (const list of [dense, this.keyword(query, opts.k)]) {
      for (const h of list) {
        const [which, r] = Object.entries(h.sources ?? {})[0] as ['dense' | 'keyword', ListRank];
        const prev = fused.get(h.id);
        const add = 1 / (RRF_K + r.rank);
        if (prev) {
          prev.score += add;
          prev.sources = { ...prev.sources, [which]: r };
        } else {
          fused.set(h.id, { id: h.id, text: h.text, ...(h.metadata ? { metadata: h.metadata } : {}), score: add, sources: { [which]: r } });
        }
      }
    }
    return [...fused.values()].sort((a, b) => b.score - a.score).slice(0, opts.k);
  }
}
