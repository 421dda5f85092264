// The BEIR loader (what it accepts, and errors that name file:line) and the gate sweep on a hand-computed case.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { documentText, loadBeir, readCorpus, readQrels, readQueries } from '../src/eval/beir.js';
import { gateSweep } from '../src/eval/gate-sweep.js';

describe('BEIR loader', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'crossgate-beir-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function collection(name: string, files: { corpus: string; queries: string; qrels: string; split?: string }): Promise<string> {
    const root = join(dir, name);
    await mkdir(join(root, 'qrels'), { recursive: true });
    await writeFile(join(root, 'corpus.jsonl'), files.corpus);
    await writeFile(join(root, 'queries.jsonl'), files.queries);
    await writeFile(join(root, 'qrels', `${files.split ?? 'test'}.tsv`), files.qrels);
    return root;
  }

  it('reads the three files: header skipped, graded scores, numeric ids as text, BOM and CRLF tolerated, title optional', async () => {
    const root = await collection('ok', {
      corpus: '\uFEFF{"_id": 1, "title": "One", "text": "first"}\r\n\n{"_id": "2", "text": "second"}\r\n{"_id": "3", "title": "Only title", "text": ""}\n',
      queries: '{"_id": "q1", "text": "a question", "metadata": {}}\n{"_id": "q2", "text": "unjudged"}\n',
      qrels: 'query-id\tcorpus-id\tscore\nq1\t1\t2\nq1\t2\t0\nq1\tmissing\t1\n',
    });
    const b = await loadBeir(root);
    assert.deepEqual(b.corpus, [{ id: '1', title: 'One', text: 'first' }, { id: '2', title: '', text: 'second' }, { id: '3', title: 'Only title', text: '' }]);
    assert.deepEqual([...b.queries.keys()], ['q1', 'q2']);
    assert.deepEqual([...b.qrels.get('q1')!], [['1', 2], ['2', 0], ['missing', 1]]);
    assert.equal(b.unknownDocs, 1, 'a judged id missing from the corpus is counted');
    assert.deepEqual(b.corpus.map(documentText), ['One first', 'second', 'Only title']);
  });

  it('accepts TREC four-column qrels and whitespace separators', async () => {
    const root = join(dir, 'trec.tsv');
    await writeFile(root, 'q1 0 d1 1\nq1 0 d2 0\n');
    assert.deepEqual([...(await readQrels(root)).get('q1')!], [['d1', 1], ['d2', 0]]);
  });

  it('errors name the file and line, and say what was expected', async () => {
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"_id":"a","text":"x"}\n{"_id":"a","text":"y"}\n');
    await assert.rejects(readCorpus(bad), new RegExp(`${bad}:2: duplicate _id "a" \\(first on line 1\\)`));
    await writeFile(bad, '{"_id":"a","text":"x"}\n{"text":"y"}\n');
    await assert.rejects(readCorpus(bad), /bad\.jsonl:2: "_id" is missing; expected a non-empty string/);
    await writeFile(bad, '{"_id":"a","text":"x"\n');
    await assert.rejects(readCorpus(bad), /bad\.jsonl:1: invalid JSON/);
    await writeFile(bad, '{"_id":"a","title":5,"text":"x"}\n');
    await assert.rejects(readCorpus(bad), /bad\.jsonl:1: "title" of "a" is number/);
    await writeFile(bad, '\n\n');
    await assert.rejects(readCorpus(bad), /holds no documents/);
    await writeFile(bad, '{"_id":"q","text":"  "}\n');
    await assert.rejects(readQueries(bad), /bad\.jsonl:1: "text" of query "q" is blank/);
    const tsv = join(dir, 'bad.tsv');
    await writeFile(tsv, 'query-id\tcorpus-id\tscore\nq1\td1\n');
    await assert.rejects(readQrels(tsv), /bad\.tsv:2: expected 3 tab-separated columns \(query-id<TAB>corpus-id<TAB>integer score\); got 2/);
    await writeFile(tsv, 'query-id\tcorpus-id\tscore\nq1\td1\t0.5\n');
    await assert.rejects(readQrels(tsv), /bad\.tsv:2: score "0\.5" is not an integer/);
    await writeFile(tsv, 'q1\td1\t1\nq1\td1\t2\n');
    await assert.rejects(readQrels(tsv), /bad\.tsv:2: query "q1" judges document "d1" again \(first on line 1\)/);
    await assert.rejects(loadBeir(join(dir, 'nowhere')), /nowhere does not exist; pass a BEIR directory/);
    const root = await collection('nocorpus', { corpus: '', queries: '', qrels: '', split: 'dev' });
    await rm(join(root, 'corpus.jsonl'));
    await assert.rejects(loadBeir(root), /test\.tsv does not exist; this collection has split dev: pass --split dev/);
    await assert.rejects(loadBeir(root, 'dev'), /corpus\.jsonl does not exist; a BEIR directory holds corpus\.jsonl/);
  });
});

describe('gate sweep', () => {
  it('answered, precision and recall per threshold (hand-computed)', () => {
    const qrels = new Map([
      ['a', new Map([['a1', 1]])],
      ['b', new Map([['b9', 2]])], // its relevant passage is not among the candidates: not answerable
      ['c', new Map([['c2', 1]])],
    ]);
    const sweep = gateSweep([
      { qid: 'a', candidates: [{ docId: 'a1', probability: 0.9 }, { docId: 'a2', probability: 0.3 }] },
      { qid: 'b', candidates: [{ docId: 'b1', probability: 0.6 }] },
      { qid: 'c', candidates: [{ docId: 'c1', probability: 0.5 }, { docId: 'c2', probability: 0.1 }] },
    ], qrels, [0.5, 0.1, 0.95, 0.5]);
    assert.equal(sweep.queries, 3);
    assert.equal(sweep.answerable, 2);
    assert.deepEqual(sweep.rows, [
      // 0.1: all answer; a (a1) and c (c2) keep a relevant passage.
      { threshold: 0.1, answered: 3, answeredFraction: 1, precision: 2 / 3, recall: 1 },
      // 0.5: a keeps a1 (right), b keeps b1 (wrong), c keeps c1 only (wrong).
      { threshold: 0.5, answered: 3, answeredFraction: 1, precision: 1 / 3, recall: 1 / 2 },
      { threshold: 0.95, answered: 0, answeredFraction: 0, precision: null, recall: 0 },
    ]);
  });
});
