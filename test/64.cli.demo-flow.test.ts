// `crossgate demo` walks the decision flow: every query prints the path it took, part 3 forces each of the
// three ways on the error-code query, and the demo ends with the gap report of what it could not answer.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { Collection } from '../src/pipeline/collection.js';
import { DEMO_CORPUS, DEMO_ERROR_CODE, DEMO_QUERIES } from '../src/pipeline/demo-corpus.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

describe('crossgate demo: the decision flow', () => {
  let root: string;
  let out: string;
  let keywordIndex: boolean;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-demo-flow-'));
    const crossDir = await ensureGenerated('tiny-cross', { root: join(root, 'models') });
    const biDir = await ensureGenerated('tiny-bi', { root: join(root, 'models') });
    const bi = await BiEncoder.load(biDir);
    keywordIndex = Collection.create(bi).modes.includes('keyword');
    await bi.close();
    const r = spawnSync(process.execPath, [CLI, 'demo', '--model', crossDir, '--bi-encoder', biDir], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, TMPDIR: root } });
    assert.equal(r.status, 0, r.stderr);
    out = r.stdout;
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('indexes the error-code document with the others and prints the path of every query', () => {
    assert.equal(DEMO_CORPUS.filter((d) => d.text.includes(DEMO_ERROR_CODE)).length, 1, 'only one document holds the code');
    assert.match(out, /RANDOM-WEIGHT MODELS: THE SCORES BELOW ARE MEANINGLESS/);
    assert.match(out, new RegExp(`indexed ${DEMO_CORPUS.length} documents`));
    const blocks = out.split(/\n--- Query \d+\/\d+: /).slice(1);
    assert.equal(blocks.length, DEMO_QUERIES.length);
    for (const b of blocks) {
      const path = /\nPath: (collection:dense .*)\n/.exec(b);
      assert.ok(path, 'a path line');
      const outcome = /\nOutcome: (answer_from_fallback|answer|ambiguous|no_relevant)/.exec(b)![1];
      // The path goes on to the fallback exactly when the first retrieval kept nothing.
      const firstKept = Number(/^collection:dense \((\d+)\/\d+ kept/.exec(path[1])![1]);
      assert.equal(path[1].includes('-> collection:keyword'), firstKept === 0);
      assert.equal(outcome === 'answer', firstKept > 0);
    }
    const summary = out.slice(out.indexOf('== Summary =='), out.indexOf('== Part 3'));
    assert.equal((summary.match(/\n {6}path: collection:dense/g) ?? []).length, DEMO_QUERIES.length);
  });

  it('forces each way on the error-code query and ends with the gap report', () => {
    const part3 = out.slice(out.indexOf('== Part 3'), out.indexOf('== Gap report'));
    assert.match(part3, new RegExp(`on "what does error ${DEMO_ERROR_CODE} mean"`));
    assert.match(part3, /\n1\. answer: threshold 0\.\d{4} -> answer, kept \S+ via dense/);
    if (keywordIndex) {
      // The seeded models make this deterministic: one of the wordings tried lets the fallback answer.
      assert.match(part3, /\n2\. answer_from_fallback \("[^"]*CG-4711[^"]*", top-\d\): threshold 0\.\d{4} -> answer_from_fallback, kept err-1 via keyword/);
      assert.match(part3, /path: collection:dense \(0\/\d kept, best 0\.\d{4}\) -> collection:keyword \([1-9]\/\d kept/);
    } else {
      assert.match(part3, /\n2\. answer_from_fallback: unavailable here: the collection has no keyword index/);
    }
    assert.match(part3, /\n3\. no_relevant: threshold 1\.0000 -> no_relevant \[augment\], kept nothing/);
    assert.match(part3, /augment: collection:dense.*: the best of \d+ candidates reached probability/);
    const report = out.slice(out.indexOf('== Gap report'));
    assert.match(report, /decisions: \d+ \(answer \d+, answer_from_fallback \d+, ambiguous \d+, no_relevant [1-9]\d*\)/);
    assert.match(report, /no-result rate: \d+\.\d%/);
    assert.match(report, new RegExp(`\\d\\. "what does error ${DEMO_ERROR_CODE} mean"  x\\d+  best 0\\.\\d{4}`));
  });
});
