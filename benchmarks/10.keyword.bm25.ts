// Trial 10: keyword search on a real test collection (CACM, BEIR layout, from ../shared/eval): index build
// time, queries/s over the whole query set (one thread, top-10), nDCG@10 / MRR@10 / Recall@100, index size;
// against minisearch and @orama/orama (defaults and their best analyzer: Lucene's stop set + Porter) and a
// plain-JS BM25 reference (Lucene's formula, the same stop set and the npm Porter stemmer), all in one run.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import MiniSearch from 'minisearch';
import { create, insertMultiple, search as oramaSearch } from '@orama/orama';
import { stemmer } from 'stemmer';
import { KeywordIndex } from '../src/index/index.js';
import { packageRoot } from '../src/native.js';
import { packageVersion } from './lib/machine.js';
import { median, ratios } from './lib/stats.js';
import { figure, ratio, standalone, type Trial } from './lib/trial.js';

/** Lucene's EnglishAnalyzer stop set, given to every engine that takes a list. */
const STOP = new Set(['a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it', 'no', 'not', 'of', 'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these', 'they', 'this', 'to', 'was', 'will', 'with']);

interface Doc { id: string; title: string; text: string }
interface Query { id: string; text: string }
interface Collection { name: string; docs: Doc[]; queries: Query[]; qrels: Map<string, Map<string, number>> }

function evalRoot(): string | null {
  const candidates = [process.env.CROSSGATE_EVAL_DIR, join(packageRoot(), '..', 'shared', 'eval'), '/work/shared/eval'].filter((p): p is string => !!p);
  return candidates.find((p) => existsSync(join(p, 'cacm', 'corpus.jsonl'))) ?? null;
}

function readBeir(dir: string, name: string): Collection {
  const jsonl = (f: string) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>);
  const docs = jsonl('corpus.jsonl').map((d) => ({ id: String(d._id), title: d.title ?? '', text: d.text ?? '' }));
  const queries = jsonl('queries.jsonl').map((q) => ({ id: String(q._id), text: q.text }));
  const qrels = new Map<string, Map<string, number>>();
  for (const line of readFileSync(join(dir, 'qrels', 'test.tsv'), 'utf8').split('\n').slice(1)) {
    const [q, d, s] = line.split('\t');
    if (!q || !d) continue;
    if (!qrels.has(q)) qrels.set(q, new Map());
    qrels.get(q)!.set(d, Number(s));
  }
  return { name, docs, queries: queries.filter((q) => qrels.has(q.id)), qrels };
}

/** trec_eval's ndcg_cut.10 (gain = relevance, log2 discount), MRR@10 and Recall@100, averaged over queries. */
function evaluate(c: Collection, runs: Map<string, string[]>): { ndcg10: number; mrr10: number; recall100: number } {
  let ndcg = 0, mrr = 0, recall = 0;
  for (const q of c.queries) {
    const rel = c.qrels.get(q.id)!;
    const ranked = runs.get(q.id) ?? [];
    let dcg = 0;
    ranked.slice(0, 10).forEach((d, i) => (dcg += (rel.get(d) ?? 0) / Math.log2(i + 2)));
    const ideal = [...rel.values()].filter((g) => g > 0).sort((a, b) => b - a).slice(0, 10);
    const idcg = ideal.reduce((s, g, i) => s + g / Math.log2(i + 2), 0);
    ndcg += idcg > 0 ? dcg / idcg : 0;
    const first = ranked.slice(0, 10).findIndex((d) => (rel.get(d) ?? 0) > 0);
    mrr += first >= 0 ? 1 / (first + 1) : 0;
    const relevant = [...rel.values()].filter((g) => g > 0).length;
    recall += relevant > 0 ? ranked.slice(0, 100).filter((d) => (rel.get(d) ?? 0) > 0).length / relevant : 0;
  }
  const n = c.queries.length;
  return { ndcg10: ndcg / n, mrr10: mrr / n, recall100: recall / n };
}

/** A search engine under test: build from documents, then a synchronous-or-async ranked id list per query. */
interface Engine {
  name: string;
  build(docs: Doc[]): Promise<void>;
  search(q: string, k: number): Promise<string[]> | string[];
}

function crossgate(): Engine {
  let index: KeywordIndex;
  let ids: string[] = [];
  return {
    name: 'crossgate KeywordIndex (English analyzer, Lucene BM25)',
    async build(docs) {
      index = new KeywordIndex();
      ids = docs.map((d) => d.id);
      await index.add(docs.map((d, i) => ({ id: i, title: d.title, text: d.text })));
    },
    search: (q, k) => index.searchSync(q, k).map((h) => ids[h.id]),
    get index() { return index; },
  } as Engine & { index: KeywordIndex };
}

/** The reference: Lucene's BM25 formula in plain JS, exact lengths, exhaustive over the postings. */
function jsReference(): Engine {
  const analyze = (s: string) => s.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((t) => t && !STOP.has(t)).map((t) => stemmer(t));
  let postings = new Map<string, [number, number][]>();
  let lengths: number[] = [];
  let avgdl = 0;
  let ids: string[] = [];
  return {
    name: 'plain-JS BM25 (Lucene formula, stop + Porter)',
    async build(docs) {
      postings = new Map();
      ids = docs.map((d) => d.id);
      lengths = docs.map((d, i) => {
        const terms = analyze(`${d.title}\n${d.text}`);
        const tf = new Map<string, number>();
        for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
        for (const [t, f] of tf) {
          let list = postings.get(t);
          if (!list) postings.set(t, (list = []));
          list.push([i, f]);
        }
        return terms.length;
      });
      avgdl = lengths.reduce((a, b) => a + b, 0) / lengths.length;
    },
    search(q, k) {
      const n = lengths.length;
      const acc = new Float64Array(n);
      const touched: number[] = [];
      for (const t of analyze(q)) {
        const list = postings.get(t);
        if (!list) continue;
        const idf = Math.log(1 + (n - list.length + 0.5) / (list.length + 0.5));
        for (const [d, f] of list) {
          if (acc[d] === 0) touched.push(d);
          acc[d] += idf * f / (f + 1.2 * (0.25 + 0.75 * lengths[d] / avgdl));
        }
      }
      return touched.sort((a, b) => acc[b] - acc[a] || a - b).slice(0, k).map((d) => ids[d]);
    },
  };
}

function minisearch(best: boolean): Engine {
  let ms: MiniSearch;
  return {
    name: best ? 'minisearch (stop + Porter via processTerm)' : 'minisearch (default analyzer)',
    async build(docs) {
      ms = new MiniSearch({
        fields: ['title', 'text'],
        idField: 'id',
        ...(best ? { processTerm: (t: string) => { const l = t.toLowerCase(); return STOP.has(l) ? null : stemmer(l); } } : {}),
      });
      ms.addAll(docs);
    },
    search: (q, k) => ms.search(q, { combineWith: 'OR' }).slice(0, k).map((r) => String(r.id)),
  };
}

function orama(best: boolean): Engine {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let db: any;
  return {
    name: best ? 'orama (stemming + Lucene stop set)' : 'orama (default)',
    async build(docs) {
      db = create({
        schema: { id: 'string', title: 'string', text: 'string' } as const,
        ...(best ? { components: { tokenizer: { stemming: true, stopWords: [...STOP] } } } : {}),
      });
      await insertMultiple(db, docs, 1000);
    },
    async search(q, k) {
      const r = await oramaSearch(db, { term: q, properties: ['title', 'text'], limit: k, threshold: 1 });
      return r.hits.map((h: { document: { id: string } }) => h.document.id);
    },
  };
}

async function timeBuild(e: Engine, docs: Doc[]): Promise<number> {
  const t0 = performance.now();
  await e.build(docs);
  return performance.now() - t0;
}

async function timeQueries(e: Engine, queries: Query[], reps: number): Promise<number> {
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) for (const q of queries) await e.search(q.text, 10);
  return (queries.length * reps) / ((performance.now() - t0) / 1000);
}

export const trial: Trial = {
  id: '10',
  file: '10.keyword.bm25.ts',
  title: 'Keyword search (BM25) on CACM: quality, queries/s, build time',
  async run({ quick, log }) {
    const root = evalRoot();
    if (!root) throw new Error('no eval collections found: set CROSSGATE_EVAL_DIR to a folder holding cacm/ (BEIR layout)');
    const c = readBeir(join(root, 'cacm'), 'cacm');
    log(`collection ${c.name}: ${c.docs.length} documents, ${c.queries.length} judged queries`);
    const rounds = quick ? 3 : 7;
    const reps = quick ? 2 : 5;
    const cg = crossgate() as Engine & { index: KeywordIndex };
    const engines: Engine[] = [cg, jsReference(), minisearch(true), minisearch(false), orama(true), orama(false)];
    const build = new Map<string, number[]>(engines.map((e) => [e.name, []]));
    const qps = new Map<string, number[]>(engines.map((e) => [e.name, []]));
    const quality = new Map<string, { ndcg10: number; mrr10: number; recall100: number }>();
    for (let r = 0; r < rounds; r++) {
      // Interleaved: every engine runs in every round, so load on the machine hits all of them alike.
      for (const e of engines) {
        build.get(e.name)!.push(await timeBuild(e, c.docs));
        if (r === 0) {
          const runs = new Map<string, string[]>();
          for (const q of c.queries) runs.set(q.id, await e.search(q.text, 100));
          quality.set(e.name, evaluate(c, runs));
        }
        qps.get(e.name)!.push(await timeQueries(e, c.queries, reps));
      }
    }
    const stats = cg.index.stats();
    const dir = mkdtempSync(join(tmpdir(), 'cg-bench-kw-'));
    await cg.index.save(join(dir, 'k.cgki'));
    const fileBytes = statSync(join(dir, 'k.cgki')).size;
    rmSync(dir, { recursive: true, force: true });
    const raw = stats.postings * 8; // (u32 doc, u32 tf) per posting, uncompressed
    const rows = engines.map((e) => {
      const q = quality.get(e.name)!;
      return [e.name, q.ndcg10.toFixed(4), q.mrr10.toFixed(4), q.recall100.toFixed(4), median(qps.get(e.name)!).toFixed(0), median(build.get(e.name)!).toFixed(1)];
    });
    for (const row of rows) log(`  ${row.join(' | ')}`);
    const ms = 'minisearch (stop + Porter via processTerm)';
    const nd = (name: string) => quality.get(name)!.ndcg10;
    return {
      peer: `minisearch ${packageVersion('minisearch')}, @orama/orama ${packageVersion('@orama/orama')}, plain-JS BM25 reference (stemmer ${packageVersion('stemmer')})`,
      settings: { collection: c.name, documents: c.docs.length, queries: c.queries.length, rounds, queryReps: reps, threads: 1, topK: 10, k1: 1.2, b: 0.75 },
      figures: [
        ...engines.map((e) => figure(`${e.name}: queries/s`, 'q/s', qps.get(e.name)!)),
        ...engines.map((e) => figure(`${e.name}: index build`, 'ms', build.get(e.name)!)),
        figure('crossgate index file', 'bytes', [fileBytes]),
        figure('crossgate postings (delta + varint)', 'bytes', [stats.postingsBytes]),
      ],
      ratios: [
        ratio('queries/s: crossgate / minisearch (best analyzer)', ratios(qps.get(cg.name)!, qps.get(ms)!), { name: 'keyword >= 10x minisearch queries/s', op: '>=', value: 10 }),
        ratio('index build: minisearch time / crossgate time', ratios(build.get(ms)!, build.get(cg.name)!), { name: 'keyword build >= 3x minisearch', op: '>=', value: 3 }),
        ratio('nDCG@10: crossgate - JS reference (Lucene BM25, stop + Porter)', [nd(cg.name) - nd(engines[1].name)], { name: 'nDCG@10 >= Lucene BM25 reference', op: '>=', value: 0 }),
        ratio('nDCG@10: crossgate - best of minisearch/orama', [nd(cg.name) - Math.max(...engines.slice(2).map((e) => nd(e.name)))], { name: 'nDCG@10 > minisearch and orama', op: '>=', value: 0 }),
        ratio('queries/s: crossgate / JS reference', ratios(qps.get(cg.name)!, qps.get(engines[1].name)!)),
        ratio('postings: uncompressed (8 B/posting) / delta+varint', [raw / stats.postingsBytes]),
      ],
      notes: [
        `crossgate indexes title and text as one BM25 field (titleWeight 1), as the reference and the README's figures do; Lucene's one-byte length norms (SmallFloat).`,
        `Search is exact term-at-a-time with a dense accumulator and a top-k heap: ${(1e6 / median(qps.get(cg.name)!)).toFixed(0)} µs a query here, so MaxScore/WAND pruning would not pay on collections of this size; not added.`,
        `Index: ${stats.terms} terms, ${stats.postings} postings in ${stats.postingsBytes} bytes (${(stats.postingsBytes / stats.postings).toFixed(2)} B/posting vs 8 uncompressed); file ${fileBytes} bytes.`,
      ],
      tables: [{ title: `Quality and speed on ${c.name}`, columns: ['system', 'nDCG@10', 'MRR@10', 'Recall@100', 'queries/s', 'build ms'], rows }],
    };
  },
};

await standalone(trial, import.meta.url);
