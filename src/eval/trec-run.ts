// TREC run files, the format trec_eval, pytrec_eval and ir_measures read: one line per retrieved
// document, six whitespace-separated columns "qid Q0 docid rank score tag".
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { rankLikeTrecEval, type Run, type ScoredDoc } from './metrics.js';

/** A run tag must be one token: trec_eval splits on whitespace. */
export function checkRunTag(tag: string): string {
  if (!/^\S+$/.test(tag)) throw new RangeError(`run tag ${JSON.stringify(tag)} must be one word without spaces (e.g. "crossgate-dense")`);
  return tag;
}

function checkId(what: string, id: string, qid: string): void {
  if (!/^\S+$/.test(id)) {
    throw new RangeError(`${what} ${JSON.stringify(id)}${what === 'document id' ? ` (query "${qid}")` : ''} is empty or holds whitespace; a TREC run file cannot carry it; use ids without spaces`);
  }
}

/**
 * The run's lines, each query's documents ranked as trec_eval ranks them (so the rank column agrees with
 * the order any outside tool will use). Scores are written with the shortest text that reads back as the
 * same double, so ties and order survive the round trip exactly.
 */
export function formatRun(run: Run, tag: string): string[] {
  checkRunTag(tag);
  const out: string[] = [];
  for (const [qid, docs] of run) {
    checkId('query id', qid, qid);
    rankLikeTrecEval(docs).forEach((d, i) => {
      checkId('document id', d.docId, qid);
      if (!Number.isFinite(d.score)) throw new RangeError(`score of document "${d.docId}" (query "${qid}") is ${d.score}; a run file needs finite scores`);
      out.push(`${qid} Q0 ${d.docId} ${i + 1} ${String(d.score)} ${tag}`);
    });
  }
  return out;
}

/** Writes a run file (atomically enough for a report: the whole text in one write). */
export async function writeRun(path: string, run: Run, tag: string): Promise<void> {
  const lines = formatRun(run, tag);
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(lines.length > 0 ? lines.join('\n') + '\n' : '');
  } finally {
    await fh.close();
  }
}

/** Reads a run file; every error names file:line. Query order is first appearance. */
export async function readRun(path: string): Promise<Run> {
  const run: Run = new Map();
  const seen = new Map<string, number>();
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim().length === 0) continue;
    const cols = line.trim().split(/\s+/);
    const where = `${path}:${n}`;
    if (cols.length !== 6) throw new Error(`${where}: expected 6 columns (qid Q0 docid rank score tag); got ${cols.length}`);
    const [qid, , docId, , rawScore] = cols;
    const score = Number(rawScore);
    if (rawScore.length === 0 || !Number.isFinite(score)) throw new Error(`${where}: score "${rawScore}" is not a finite number`);
    const key = `${qid}\u0000${docId}`;
    const prev = seen.get(key);
    if (prev !== undefined) throw new Error(`${where}: query "${qid}" lists document "${docId}" again (first on line ${prev}); trec_eval refuses duplicates`);
    seen.set(key, n);
    let docs = run.get(qid);
    if (!docs) run.set(qid, (docs = []));
    docs.push({ docId, score } satisfies ScoredDoc);
  }
  return run;
}
