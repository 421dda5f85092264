// Labelled (query, passage) pairs for calibration: from a JSONL file of {query, passage, label}, or from a
// BEIR collection's judgements with sampled unjudged passages as negatives (seeded, so runs repeat).
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Rng } from '../models/random.js';
import { documentText, type BeirCollection } from './beir.js';
import { RELEVANCE_LEVEL } from './metrics.js';

export interface LabelledPair {
  query: string;
  passage: string;
  /** 1 = relevant, 0 = not. */
  label: 0 | 1;
}

const PAIR_SHAPE = '{"query": string, "passage": string, "label": 0 | 1 | true | false}';

/** Reads a JSONL file of labelled pairs; every error names file:line. */
export async function readPairs(path: string): Promise<LabelledPair[]> {
  const pairs: LabelledPair[] = [];
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of rl) {
      n++;
      if (text.trim().length === 0) continue;
      const where = `${path}:${n}`;
      let o: unknown;
      try {
        o = JSON.parse(text);
      } catch (e) {
        throw new Error(`${where}: invalid JSON (${(e as Error).message}); expected ${PAIR_SHAPE}`);
      }
      if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new Error(`${where}: expected a JSON object ${PAIR_SHAPE}`);
      const { query, passage, label } = o as Record<string, unknown>;
      if (typeof query !== 'string' || query.trim().length === 0) throw new Error(`${where}: "query" is ${typeof query === 'string' ? 'blank' : query === undefined ? 'missing' : typeof query}; expected a non-blank string (${PAIR_SHAPE})`);
      if (typeof passage !== 'string') throw new Error(`${where}: "passage" is ${passage === undefined ? 'missing' : typeof passage}; expected a string (${PAIR_SHAPE})`);
      let y: 0 | 1;
      if (label === 1 || label === true) y = 1;
      else if (label === 0 || label === false) y = 0;
      else throw new Error(`${where}: "label" is ${JSON.stringify(label) ?? 'missing'}; expected 1 (relevant) or 0 (not relevant)`);
      pairs.push({ query, passage, label: y });
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`--pairs ${path} does not exist; pass a JSONL file with one ${PAIR_SHAPE} per line`);
    throw e;
  }
  if (pairs.length === 0) throw new Error(`${path} holds no pairs; expected one ${PAIR_SHAPE} per line`);
  return pairs;
}

export interface BeirPairOptions {
  /** Unjudged passages sampled per judged query as negatives (default 10). */
  negativesPerQuery?: number;
  /** Lowest grade that counts as relevant (default 1, trec_eval's relevance level). */
  relevantGrade?: number;
  seed?: number;
}

export const DEFAULT_NEGATIVES_PER_QUERY = 10;

/**
 * Pairs from a BEIR collection: every judged document of every judged query (label 1 at or above
 * `relevantGrade`, else 0), plus `negativesPerQuery` documents the query's judgements do not mention,
 * drawn at random from the corpus, as label 0. Unjudged is not the same as irrelevant, so a few of those
 * negatives may be relevant: a small, known bias towards lower probabilities.
 */
export function pairsFromBeir(beir: BeirCollection, opts: BeirPairOptions = {}): LabelledPair[] {
  const negatives = opts.negativesPerQuery ?? DEFAULT_NEGATIVES_PER_QUERY;
  const level = opts.relevantGrade ?? RELEVANCE_LEVEL;
  const rng = new Rng(opts.seed ?? 42);
  const byId = new Map(beir.corpus.map((d) => [d.id, d]));
  const pairs: LabelledPair[] = [];
  for (const [qid, judged] of beir.qrels) {
    const query = beir.queries.get(qid)!.text;
    for (const [docId, grade] of judged) {
      const doc = byId.get(docId);
      if (!doc || grade < 0) continue; // not in the corpus, or in the pool but unjudged
      pairs.push({ query, passage: documentText(doc), label: grade >= level ? 1 : 0 });
    }
    const room = beir.corpus.length - judged.size;
    const want = Math.min(negatives, Math.max(0, room));
    const picked = new Set<string>();
    for (let tries = 0; picked.size < want && tries < want * 20; tries++) {
      const d = beir.corpus[rng.int(beir.corpus.length)];
      if (judged.has(d.id) || picked.has(d.id)) continue;
      picked.add(d.id);
      pairs.push({ query, passage: documentText(d), label: 0 });
    }
  }
  return pairs;
}
