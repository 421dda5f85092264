// Reads a BEIR-layout test collection: corpus.jsonl ({_id, title, text}), queries.jsonl ({_id, text}) and
// qrels/<split>.tsv (a header line, then query-id, corpus-id, integer score). Every error names file:line.
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Qrels } from './metrics.js';

export interface BeirDocument {
  id: string;
  title: string;
  text: string;
}

export interface BeirQuery {
  id: string;
  text: string;
}

export interface BeirCollection {
  dir: string;
  split: string;
  corpus: BeirDocument[];
  /** Every query of queries.jsonl, in file order. */
  queries: Map<string, BeirQuery>;
  /** Judgements of `split`, in qrels file order. */
  qrels: Qrels;
  /** Judged document ids that the corpus does not hold: they still count as judged (as in trec_eval). */
  unknownDocs: number;
}

/** An error in a collection file, pointing at the line. */
export class BeirFormatError extends Error {
  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = 'BeirFormatError';
  }
}

async function* lines(path: string): AsyncGenerator<{ n: number; text: string }> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const text of rl) {
    n++;
    yield { n, text: n === 1 ? text.replace(/^\uFEFF/, '') : text };
  }
}

function jsonObject(where: string, text: string, expected: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new BeirFormatError(where, `invalid JSON (${(e as Error).message}); expected ${expected}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new BeirFormatError(where, `expected a JSON object ${expected}`);
  return v as Record<string, unknown>;
}

/** BEIR ids are strings; some converters write numbers. Both are accepted, as text. */
function idOf(where: string, v: unknown, expected: string): string {
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new BeirFormatError(where, `"_id" is ${v === undefined ? 'missing' : typeof v === 'string' ? 'empty' : typeof v}; expected a non-empty string (${expected})`);
}

function requireFile(path: string, what: string): void {
  if (!existsSync(path)) throw new Error(`${path} does not exist; a BEIR directory holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv (${what})`);
}

const CORPUS_SHAPE = '{"_id": string, "title"?: string, "text": string}';
const QUERY_SHAPE = '{"_id": string, "text": string}';

export async function readCorpus(path: string): Promise<BeirDocument[]> {
  requireFile(path, 'the documents');
  const docs: BeirDocument[] = [];
  const seen = new Map<string, number>();
  for await (const { n, text } of lines(path)) {
    if (text.trim().length === 0) continue;
    const where = `${path}:${n}`;
    const o = jsonObject(where, text, CORPUS_SHAPE);
    const id = idOf(where, o._id, CORPUS_SHAPE);
    const title = o.title ?? '';
    if (typeof title !== 'string') throw new BeirFormatError(where, `"title" of "${id}" is ${typeof title}; expected a string (${CORPUS_SHAPE})`);
    if (typeof o.text !== 'string') throw new BeirFormatError(where, `"text" of "${id}" is ${o.text === undefined ? 'missing' : typeof o.text}; expected a string (${CORPUS_SHAPE})`);
    const prev = seen.get(id);
    if (prev !== undefined) throw new BeirFormatError(where, `duplicate _id "${id}" (first on line ${prev}); ids must be unique`);
    seen.set(id, n);
    docs.push({ id, title, text: o.text });
  }
  if (docs.length === 0) throw new Error(`${path} holds no documents; expected one ${CORPUS_SHAPE} per line`);
  return docs;
}

export async function readQueries(path: string): Promise<Map<string, BeirQuery>> {
  requireFile(path, 'the queries');
  const queries = new Map<string, BeirQuery>();
  const lineOf = new Map<string, number>();
  for await (const { n, text } of lines(path)) {
    if (text.trim().length === 0) continue;
    const where = `${path}:${n}`;
    const o = jsonObject(where, text, QUERY_SHAPE);
    const id = idOf(where, o._id, QUERY_SHAPE);
    if (typeof o.text !== 'string' || o.text.trim().length === 0) {
      throw new BeirFormatError(where, `"text" of query "${id}" is ${typeof o.text === 'string' ? 'blank' : o.text === undefined ? 'missing' : typeof o.text}; expected a non-blank string (${QUERY_SHAPE})`);
    }
    const prev = lineOf.get(id);
    if (prev !== undefined) throw new BeirFormatError(where, `duplicate _id "${id}" (first on line ${prev}); ids must be unique`);
    lineOf.set(id, n);
    queries.set(id, { id, text: o.text });
  }
  return queries;
}

const QRELS_SHAPE = 'query-id<TAB>corpus-id<TAB>integer score';

/**
 * Reads a qrels TSV. The first line is BEIR's header (query-id, corpus-id, score) and is skipped when its
 * score column is not a number; TREC's four-column qrels (qid 0 docid rel) are accepted too.
 */
export async function readQrels(path: string): Promise<Qrels> {
  requireFile(path, 'the judgements');
  const qrels: Qrels = new Map();
  const lineOf = new Map<string, number>();
  for await (const { n, text } of lines(path)) {
    if (text.trim().length === 0) continue;
    const where = `${path}:${n}`;
    let cols = text.split('\t');
    if (cols.length === 1) cols = text.trim().split(/\s+/);
    if (cols.length === 4) cols = [cols[0], cols[2], cols[3]];
    if (cols.length !== 3) throw new BeirFormatError(where, `expected 3 tab-separated columns (${QRELS_SHAPE}); got ${cols.length}`);
    const [qid, docId, raw] = cols.map((c) => c.trim());
    if (n === 1 && !/^[+-]?\d/.test(raw)) continue; // the header
    if (!/^[+-]?\d+$/.test(raw)) throw new BeirFormatError(where, `score "${raw}" is not an integer; relevance grades are integers (0 = not relevant, 1, 2, ... more relevant)`);
    if (qid.length === 0 || docId.length === 0) throw new BeirFormatError(where, `empty ${qid.length === 0 ? 'query-id' : 'corpus-id'} (${QRELS_SHAPE})`);
    const key = `${qid}\u0000${docId}`;
    const prev = lineOf.get(key);
    if (prev !== undefined) throw new BeirFormatError(where, `query "${qid}" judges document "${docId}" again (first on line ${prev}); judge each pair once`);
    lineOf.set(key, n);
    let judged = qrels.get(qid);
    if (!judged) qrels.set(qid, (judged = new Map()));
    judged.set(docId, Number(raw));
  }
  return qrels;
}

/** Loads a BEIR directory. Judged queries must exist in queries.jsonl; judged documents may be absent from the corpus. */
export async function loadBeir(dir: string, split = 'test'): Promise<BeirCollection> {
  const root = resolve(dir);
  if (!existsSync(root)) throw new Error(`--beir ${root} does not exist; pass a BEIR directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)`);
  const qrelsPath = join(root, 'qrels', `${split}.tsv`);
  if (!existsSync(qrelsPath)) {
    const have = existsSync(join(root, 'qrels')) ? readdirSync(join(root, 'qrels')).filter((f) => f.endsWith('.tsv')).map((f) => f.slice(0, -4)) : [];
    throw new Error(`${qrelsPath} does not exist; ${have.length > 0 ? `this collection has split${have.length > 1 ? 's' : ''} ${have.join(', ')}: pass --split ${have[0]}` : 'a BEIR directory holds qrels/<split>.tsv'}`);
  }
  const [corpus, queries, qrels] = await Promise.all([readCorpus(join(root, 'corpus.jsonl')), readQueries(join(root, 'queries.jsonl')), readQrels(qrelsPath)]);
  for (const qid of qrels.keys()) {
    if (!queries.has(qid)) throw new Error(`${qrelsPath} judges query "${qid}", which ${join(root, 'queries.jsonl')} does not hold; the qrels and the queries must come from the same collection`);
  }
  const ids = new Set(corpus.map((d) => d.id));
  let unknownDocs = 0;
  for (const judged of qrels.values()) for (const docId of judged.keys()) if (!ids.has(docId)) unknownDocs++;
  return { dir: root, split, corpus, queries, qrels, unknownDocs };
}

/** The text a retriever indexes for a BEIR document: title and text joined as BEIR's own models do. */
export function documentText(d: BeirDocument): string {
  return d.title.length > 0 ? (d.text.length > 0 ? `${d.title} ${d.text}` : d.title) : d.text;
}
