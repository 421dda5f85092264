// The compiled `crossgate` CLI run as a child process with the tiny generated models: each command's
// output is checked against the library it wraps, plus help, usage errors and exit codes.
import { crossgate, ok } from './60.cli.run.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { BiEncoder } from '../src/infer/bi-encoder.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { defaultThreads, defaultWorkers, resolveInferOptions } from '../src/infer/options.js';
import { loadModelDir } from '../src/models/model-dir.js';
import { Tokenizer } from '../src/tokenize/tokenizer.js';



const PASSAGES = [
  "Click on 'Forgot Password' on the login screen",
  'Use a strong password with numbers and symbols',
  'The cafeteria serves lunch from noon until two',
  'Contact support if your account is locked',
];
const QUERY = 'How to reset password';

describe('crossgate CLI', () => {
  let root: string;
  let crossDir: string;
  let biDir: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-cli-'));
    crossDir = await ensureGenerated('tiny-cross', { root: join(root, 'models') });
    biDir = await ensureGenerated('tiny-bi', { root: join(root, 'models') });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('tokenize prints exactly Tokenizer.encode for each JSONL line, in order', () => {
    const items = [
      { text: 'Hello world' },
      { text: 'how do you handle ü, ß and 漢字?', text_pair: 'special characters' },
      { text: 'x '.repeat(2000) },
      { text: 'a query', text_pair: 'a passage that is a bit longer' },
    ];
    const input = items.map((i) => JSON.stringify(i)).join('\n') + '\n';
    const tok = Tokenizer.fromFile(join(crossDir, 'tokenizer.json'));
    const maxLength = loadModelDir(crossDir).maxLength;
    for (const max of [undefined, 8]) {
      const r = ok(crossgate(['tokenize', '--model', crossDir, ...(max ? ['--max-length', String(max)] : [])], input));
      const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines.length, items.length);
      items.forEach((item, i) => {
        const e = tok.encode(item.text, item.text_pair, { maxLength: max ?? maxLength });
        assert.deepEqual(lines[i], { ids: e.ids, type_ids: e.typeIds });
        assert.ok(lines[i].ids.length <= (max ?? maxLength));
      });
    }
  });

  it('tokenize names the bad line and exits 1', () => {
    const r = crossgate(['tokenize', '--model', crossDir], '{"text":"fine"}\n{"text": 5}\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /line 2: "text" is number/);
    // One line for the error, no stack (besides the one-line random-weights warning for the generated model).
    assert.deepEqual(r.stderr.trim().split('\n').filter((l) => !/generated model with random weights/.test(l)).length, 1, 'one line, no stack');
    const bad = crossgate(['tokenize', '--model', crossDir], '{"text":"fine"}\n\nnot json\n');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /line 3: invalid JSON/);
  });

  it('rerank --json sorts by logit and matches CrossEncoder.score', async () => {
    const enc = await CrossEncoder.load(crossDir);
    const raw = await enc.score(QUERY, PASSAGES);
    await enc.close();
    const r = ok(crossgate(['rerank', '--model', crossDir, '--query', QUERY, '--json'], PASSAGES.join('\n') + '\n'));
    const body = JSON.parse(r.stdout) as { results: { index: number; logit: number; probability: number }[]; threshold?: number };
    assert.equal(body.results.length, PASSAGES.length);
    assert.equal(body.threshold, undefined);
    const expectedOrder = PASSAGES.map((_, i) => i).sort((a, b) => raw.logits[b] - raw.logits[a]);
    assert.deepEqual(body.results.map((x) => x.index), expectedOrder);
    for (const x of body.results) {
      assert.ok(Math.abs(x.logit - raw.logits[x.index]) < 1e-4, `logit of #${x.index}`);
      assert.ok(Math.abs(x.probability - raw.probabilities[x.index]) < 1e-5);
    }
    const sorted = [...raw.probabilities].sort((a, b) => b - a);
    const threshold = (sorted[1] + sorted[2]) / 2;
    const t = JSON.parse(ok(crossgate(['rerank', '--model', crossDir, '--query', QUERY, '--json', '--threshold', String(threshold)], PASSAGES.join('\n'))).stdout);
    assert.equal(t.threshold, threshold);
    assert.deepEqual(new Set(t.kept), new Set(PASSAGES.map((_, i) => i).filter((i) => raw.probabilities[i] >= threshold)));
    assert.equal(t.kept.length, 2);
    const human = ok(crossgate(['rerank', '--model', crossDir, '--query', QUERY, '--threshold', String(threshold)], PASSAGES.join('\n')));
    assert.equal((human.stdout.match(/ KEPT/g) ?? []).length, 2);
  });

  it('embed --json returns one vector per non-blank line, equal to BiEncoder.embed', async () => {
    const texts = ['first text', 'second, longer text about dogs', 'ü ß 漢字'];
    const enc = await BiEncoder.load(biDir);
    const expected = await enc.embed(texts);
    await enc.close();
    const r = ok(crossgate(['embed', '--model', biDir, '--json'], texts.join('\n') + '\n\n'));
    const body = JSON.parse(r.stdout) as { embeddings: number[][] };
    assert.equal(body.embeddings.length, texts.length);
    body.embeddings.forEach((v, i) => {
      assert.equal(v.length, expected[i].length);
      v.forEach((x, j) => assert.ok(Math.abs(x - expected[i][j]) < 1e-5));
    });
    const human = ok(crossgate(['embed', '--model', biDir], texts.join('\n')));
    assert.equal(human.stdout.trim().split('\n').length, texts.length);
  });

  it('index build + search --json retrieve, rerank and gate', () => {
    const docs = [
      { id: 'reset', text: PASSAGES[0], source: 'help-center' },
      { id: 'strong', text: PASSAGES[1] },
      { id: 'lunch', text: PASSAGES[2], metadata: { floor: 2 } },
      { id: 'locked', text: PASSAGES[3] },
      { id: 'moon', text: 'The moon orbits the earth' },
    ];
    const out = join(root, 'coll');
    const built = ok(crossgate(['index', 'build', '--bi-encoder', biDir, '--out', out], docs.map((d) => JSON.stringify(d)).join('\n')));
    assert.match(built.stderr, /indexed 5 documents/);
    assert.equal(crossgate(['index', 'build', '--bi-encoder', biDir, '--out', out], JSON.stringify(docs[0])).code, 1, 'refuses to overwrite without --force');

    const hits = JSON.parse(ok(crossgate(['search', '--index', out, '--query', PASSAGES[2], '--top-k', '3', '--json'])).stdout);
    assert.equal(hits.hits.length, 3);
    assert.equal(hits.hits[0].id, 'lunch', 'a document is its own nearest neighbour');
    assert.deepEqual(hits.hits[0].metadata, { floor: 2 });

    const d = JSON.parse(ok(crossgate(['search', '--index', out, '--query', QUERY, '--cross-encoder', crossDir, '--top-k', '4', '--threshold', '0', '--json'])).stdout);
    assert.equal(d.outcome, 'answer');
    assert.equal(d.candidates.length, 4);
    assert.equal(d.kept.length, 4);
    for (let i = 1; i < 4; i++) assert.ok(d.candidates[i - 1].retrievalScore >= d.candidates[i].retrievalScore);
    for (let i = 1; i < 4; i++) assert.ok(d.kept[i - 1].probability >= d.kept[i].probability);
    for (const c of d.kept) assert.ok(d.prompt.includes(c.text));
    const strict = JSON.parse(ok(crossgate(['search', '--index', out, '--query', QUERY, '--cross-encoder', crossDir, '--threshold', '1', '--json'])).stdout);
    const maxP = Math.max(...strict.candidates.map((c: { probability: number }) => c.probability));
    assert.equal(strict.outcome, maxP >= 1 ? 'answer' : 'no_relevant');
    if (strict.outcome === 'no_relevant') assert.equal(strict.prompt, null);
    const human = ok(crossgate(['search', '--index', out, '--query', QUERY, '--cross-encoder', crossDir]));
    assert.match(human.stdout, /Outcome: (answer|no_relevant)/);
  });

  it('index build names a duplicate id line and writes nothing', () => {
    const out = join(root, 'dup');
    const r = crossgate(['index', 'build', '--bi-encoder', biDir, '--out', out], '{"id":"a","text":"x"}\n{"id":"b","text":"y"}\n{"id":"a","text":"z"}\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /line 3: duplicate id "a" \(first seen on line 1\)/);
    assert.equal(crossgate(['search', '--index', out, '--query', 'x']).code, 1);
  });

  it('prints complete help for the top level and every command', () => {
    const top = ok(crossgate(['--help']));
    for (const c of ['demo', 'tokenize', 'rerank', 'embed', 'index build', 'search']) assert.ok(top.stdout.includes(c), `top-level help lists ${c}`);
    const flags: Record<string, string[]> = {
      demo: ['--model', '--bi-encoder', '--top-k', '--threshold', '--threads', '--workers', '--quantized'],
      tokenize: ['--model', '--max-length'],
      rerank: ['--model', '--query', '--threshold', '--json', '--threads', '--workers', '--quantized'],
      embed: ['--model', '--json', '--threads'],
      'index build': ['--bi-encoder', '--out', '--threads'],
      search: ['--index', '--query', '--cross-encoder', '--bi-encoder', '--top-k', '--threshold', '--json'],
    };
    for (const [cmd, expected] of Object.entries(flags)) {
      const r = ok(crossgate([...cmd.split(' '), '--help']));
      assert.ok(r.stdout.startsWith(`crossgate ${cmd}:`), r.stdout.slice(0, 60));
      for (const f of [...expected, '--help']) assert.ok(r.stdout.includes(f), `${cmd} --help mentions ${f}`);
    }
  });

  it('help states the worker and thread defaults the engine really uses (2 workers on CPU, 1 on CUDA; threads = cores ÷ workers)', () => {
    // What the inference layer resolves when neither flag is given: on a big machine, on CUDA, and here.
    const cpuWorkers = defaultWorkers('cpu', 1024);
    const cudaWorkers = defaultWorkers('cuda', 1024);
    assert.equal(defaultThreads(cpuWorkers, 16), Math.floor(16 / cpuWorkers));
    const here = resolveInferOptions({});
    assert.equal(here.threads, defaultThreads(here.workers));
    for (const cmd of ['rerank', 'demo', 'embed']) {
      const help = ok(crossgate([cmd, '--help'])).stdout;
      const workers = help.split('\n').find((l) => l.includes('--workers N'))!;
      const threads = help.split('\n').find((l) => l.includes('--threads N'))!;
      assert.ok(workers.includes(`default ${cpuWorkers} on CPU, never more than the cores; ${cudaWorkers} on CUDA`), `${cmd}: ${workers}`);
      assert.match(threads, new RegExp(`default: the cores ÷ workers, at least 1; ${here.threads} here with the default workers`), `${cmd}: ${threads}`);
    }
    const top = ok(crossgate(['--help'])).stdout;
    assert.match(top, new RegExp(`--workers N .*default ${cpuWorkers} on CPU, ${cudaWorkers} on CUDA`));
    assert.match(top, /--threads N .*default: cores ÷ workers/);
    const serve = ok(crossgate(['serve', '--help'])).stdout;
    assert.match(serve, new RegExp(`--workers N .*Default ${cpuWorkers} \\(${cudaWorkers} on cuda\\)`));
    assert.match(serve, /--threads N .*Default cores ÷ workers/);
  });

  it('exits 2 with usage on unknown flags and commands, 1 with one line on failures', () => {
    const bad = crossgate(['rerank', '--model', crossDir, '--query', 'q', '--bogus']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown option '--bogus'/);
    assert.match(bad.stderr, /\nUsage: crossgate rerank /);
    assert.equal(crossgate(['frobnicate']).code, 2);
    const missing = crossgate(['rerank', '--model', crossDir]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--query is required/);
    const range = crossgate(['rerank', '--model', crossDir, '--query', 'q', '--threshold', '1.5']);
    assert.equal(range.code, 2);
    assert.match(range.stderr, /--threshold is "1.5"; expected a probability between 0 and 1/);
    const fail = crossgate(['rerank', '--model', join(root, 'no-such-model'), '--query', 'q'], 'a passage\n');
    assert.equal(fail.code, 1);
    assert.equal(fail.stderr.trim().split('\n').length, 1, `one line: ${fail.stderr}`);
    assert.doesNotMatch(fail.stderr, /\n\s+at /);
  });
});
