// The first hour with the CLI, as a new user meets it: the random-weights warning on generated models,
// usage errors (one line naming the flag, did-you-mean, exit 2), --version, `models list` with the
// generated clones and `--json` always an array, progress in human units, singular/plural counts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { progressText } from '../src/cli/progress.js';
import { humanBytes, plural } from '../src/cli/format.js';
import { defaultConfig } from '../src/server/limits.js';
import { startServer } from '../src/server/server.js';
import { VERSION } from '../src/version.js';
import { crossgate, ok } from './60.cli.run.js';

const WARNING = /^crossgate: warning: .* is a generated model with random weights: its scores are noise; pull a real one with `crossgate models pull /m;

describe('CLI first hour', () => {
  let root: string;
  let cross: string;
  let bi: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-ux-'));
    [cross, bi] = [await ensureGenerated('tiny-cross'), await ensureGenerated('tiny-bi')];
  });
  after(async () => { await rm(root, { recursive: true, force: true }); });

  it('-V and --version print the version', () => {
    for (const flag of ['-V', '--version']) assert.equal(ok(crossgate([flag])).stdout, `crossgate ${VERSION}\n`);
  });

  it('a misspelt flag: one line naming it with a did-you-mean, the usage line, where the help is; exit 2', () => {
    const r = crossgate(['rerank', '--modle', cross, '--query', 'q']);
    assert.equal(r.code, 2);
    const lines = r.stderr.trimEnd().split('\n');
    assert.deepEqual(lines, [
      "crossgate rerank: unknown option '--modle'; did you mean --model?",
      'Usage: crossgate rerank --model DIR --query Q [--threshold P] [--json] < passages.txt',
      "Run 'crossgate rerank --help' for all options.",
    ]);
    assert.equal(r.stdout, '');
  });

  it('a misspelt command gets a did-you-mean and exit 2, not the whole help', () => {
    const r = crossgate(['serch']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^crossgate: unknown command "serch"; did you mean "search"\?\n/);
    assert.ok(r.stderr.split('\n').length <= 4, r.stderr);
  });

  it('every command on a generated model warns once, in one line on stderr (rerank, embed, index build, search)', () => {
    const rr = ok(crossgate(['rerank', '--model', cross, '--query', 'reset my password'], 'Forgot password link\nLunch menu\n'));
    assert.equal(rr.stderr.match(WARNING)?.length, 1, rr.stderr);
    assert.match(rr.stderr, /models pull cross-encoder\/ms-marco-MiniLM-L-6-v2`/, 'a cross-encoder points to a real cross-encoder');
    const em = ok(crossgate(['embed', '--model', bi], 'hello\n'));
    assert.match(em.stderr, WARNING);
    assert.match(em.stderr, /models pull sentence-transformers\/all-MiniLM-L6-v2`/, 'a bi-encoder points to a real bi-encoder');
    const out = join(root, 'coll');
    const ib = ok(crossgate(['index', 'build', '--bi-encoder', bi, '--out', out], '{"id":"a","text":"one document"}\n'));
    assert.match(ib.stderr, WARNING);
    assert.match(ib.stderr + ib.stdout, /indexed 1 document \(/, 'singular for one document');
    const se = crossgate(['search', '--index', out, '--cross-encoder', cross, '--query', 'one'], '');
    assert.match(se.stderr, WARNING, `search: ${se.stderr}`);
  });

  it('serve warns at start and /info says generated: true', async () => {
    const lines: string[] = [];
    const s = await startServer({ ...defaultConfig(), port: 0, host: '127.0.0.1', threads: 1 }, { rerankers: [{ name: 'rr', dir: cross }], embedders: [{ name: 'bi', dir: bi }] }, { log: (l) => lines.push(l) });
    try {
      const info = await (await fetch(`${s.url}/info`)).json() as { models: { name: string; generated: boolean }[] };
      assert.deepEqual(info.models.map((m) => [m.name, m.generated]), [['rr', true], ['bi', true]]);
    } finally {
      await s.shutdown('test done');
    }
  });

  it('models list shows the generated clones; --json is one array, [] when there is nothing', () => {
    const empty = { ...process.env, HF_HUB_CACHE: join(root, 'no-cache'), CROSSGATE_MODELS_DIR: join(root, 'no-models'), CROSSGATE_DEBUG: '' };
    assert.equal(ok(crossgate(['models', 'list', '--json'], '', empty)).stdout, '[]\n');
    const withClones = { ...empty, CROSSGATE_MODELS_DIR: join(cross, '..') };
    const rows = JSON.parse(ok(crossgate(['models', 'list', '--json'], '', withClones)).stdout) as { repo: string; kind: string; generated: boolean }[];
    assert.ok(rows.some((r) => r.repo === 'generated/tiny-cross' && r.kind === 'cross-encoder' && r.generated), JSON.stringify(rows));
    const table = ok(crossgate(['models', 'list'], '', withClones)).stdout;
    assert.match(table, /generated\/tiny-bi\s+bi-encoder\s+[\d.]+ KB\s+-\s+fp32\s+\(generated: random weights\)/);
  });

  it('a wrong-kind model names the CLI flag (no library-only option); --quantized without the file points to models quantize', async () => {
    const r = crossgate(['rerank', '--model', bi, '--query', 'q'], 'a\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /crossgate rerank: .* is a bi-encoder \(.*\); pass it as --bi-encoder \(serve: --embedder NAME=DIR\)\n$/);
    assert.doesNotMatch(r.stderr, /assumeKind/);
    const noq = join(root, 'no-quantized');
    await cp(cross, noq, { recursive: true });
    await rm(join(noq, 'onnx', 'model_quantized.onnx'));
    const q = crossgate(['rerank', '--model', noq, '--quantized', '--query', 'q'], 'a\n');
    assert.equal(q.code, 1);
    assert.match(q.stderr, new RegExp(`no quantized ONNX file .*; create one with \`crossgate models quantize ${noq.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\`, or drop --quantized`));
  });

  it('progress in human units: MB, MB/s and seconds for bytes; items/s for counts', () => {
    assert.equal(progressText(12_500_000, 87_100_000, 5, { bytes: true }), '12.5/87.1 MB, 2.5 MB/s, eta 30 s');
    assert.equal(progressText(300, 1000, 2, { unit: 'docs' }), '300/1,000 docs, 150 docs/s, eta 4.7 s');
    assert.equal(progressText(1000, 1000, 4, { unit: 'docs' }), '1,000/1,000 docs, 250 docs/s, done in 4.0 s');
    assert.equal(humanBytes(1_234_567_890), '1.2 GB');
    assert.equal(plural(1, 'document'), '1 document');
    assert.equal(plural(2, 'document'), '2 documents');
  });
});
