// `crossgate demo` with the tiny generated models: both parts of the original example, the random-weight
// banner, and one outcome (with a prompt or the no-relevant message) per query.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGenerated } from '../models/generate.js';
import { DEMO_CORPUS, DEMO_QUERIES } from '../src/pipeline/demo-corpus.js';
import { findHubSnapshot } from '../src/cli/model-paths.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

describe('crossgate demo', () => {
  let root: string;
  let crossDir: string;
  let biDir: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-demo-'));
    crossDir = await ensureGenerated('tiny-cross', { root: join(root, 'models') });
    biDir = await ensureGenerated('tiny-bi', { root: join(root, 'models') });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  function demo(args: string[]): { code: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [CLI, 'demo', '--model', crossDir, '--bi-encoder', biDir, ...args], { encoding: 'utf8', timeout: 120_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('prints both parts, the banner, and an outcome per query', () => {
    const r = demo([]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /RANDOM-WEIGHT MODELS: THE SCORES BELOW ARE MEANINGLESS/);
    assert.match(out, /\[random weights\]/);
    // The banner says how to get real scores: the two pull commands, each on its own line.
    const lines = out.split('\n').map((l) => l.trim());
    assert.ok(lines.includes('crossgate models pull cross-encoder/ms-marco-MiniLM-L-6-v2'), out.slice(0, 1200));
    assert.ok(lines.includes('crossgate models pull sentence-transformers/all-MiniLM-L6-v2'));
    assert.ok(out.indexOf('crossgate models pull') < out.indexOf('== Part 1'), 'before the scores');
    const part1 = out.indexOf('== Part 1');
    const part2 = out.indexOf('== Part 2');
    assert.ok(part1 > 0 && part2 > part1, 'part 1 comes before part 2');
    const basic = out.slice(part1, part2);
    assert.match(basic, /Query: How to reset password/);
    for (const p of ["Passage 1: Click on 'Forgot Password' on the login screen", 'Passage 2: Use a strong password with numbers and symbols']) assert.ok(basic.includes(p), p);
    assert.equal((basic.match(/Bi-encoder cosine {8}: -?\d\.\d{4}/g) ?? []).length, 2);
    assert.equal((basic.match(/Cross-encoder logit {6}: -?\d+\.\d{4}/g) ?? []).length, 2);
    assert.equal((basic.match(/Cross-encoder expit prob : \d\.\d{4}/g) ?? []).length, 2);
    assert.match(basic, /Passage [12] is .* more relevant than Passage [12] by cross-encoder probability \(random weights/);

    const detailed = out.slice(part2);
    assert.match(detailed, new RegExp(`indexed ${DEMO_CORPUS.length} documents`));
    const blocks = detailed.split(/\n--- Query \d+\/\d+: /).slice(1);
    assert.equal(blocks.length, DEMO_QUERIES.length);
    blocks.forEach((b, i) => {
      assert.ok(b.startsWith(DEMO_QUERIES[i]), `block ${i} is for "${DEMO_QUERIES[i]}"`);
      assert.equal((b.match(/cosine -?\d\.\d{4}/g) ?? []).length, 5, 'top-5 retrieved');
      assert.equal((b.match(/prob \d\.\d{4}/g) ?? []).length, 5, 'five reranked');
      assert.match(b, /Dropped below 0\.2: /);
      const outcome = /Outcome: (answer|no_relevant)/.exec(b);
      assert.ok(outcome, 'an outcome line');
      if (outcome[1] === 'answer') assert.match(b, /Prompt for the LLM:\n {2}\| Answer the question/);
      else assert.match(b, /No relevant passage: /);
      // The outcome follows from the listed probabilities.
      const probs = [...b.matchAll(/prob (\d\.\d{4})/g)].map((m) => Number(m[1]));
      assert.equal(outcome[1] === 'answer', Math.max(...probs) >= 0.2 - 5e-5);
    });
    assert.match(out, /== Summary ==/);
  });

  it('threshold 0 answers every query and threshold 1 refuses every query', () => {
    const all = demo(['--threshold', '0', '--top-k', '3']);
    assert.equal(all.code, 0, all.stderr);
    assert.equal((all.stdout.match(/Outcome: answer \(3 passages kept\)/g) ?? []).length, DEMO_QUERIES.length);
    const none = demo(['--threshold', '1']);
    assert.equal(none.code, 0, none.stderr);
    // A random-weight model could in principle output probability exactly 1; it does not here, and the
    // count below would show it if it ever did.
    assert.equal((none.stdout.match(/Outcome: no_relevant/g) ?? []).length, DEMO_QUERIES.length);
  });

  it('finds models in a Hugging Face hub cache (refs/main first) and still flags generated weights', async () => {
    const cache = join(root, 'hf-home', 'hub');
    const place = async (repo: string, src: string): Promise<string> => {
      const base = join(cache, 'models--' + repo.replace('/', '--'));
      await mkdir(join(base, 'refs'), { recursive: true });
      await writeFile(join(base, 'refs', 'main'), 'rev-main\n');
      // An older snapshot without an ONNX export must be skipped, whatever its name sorts as.
      await mkdir(join(base, 'snapshots', 'aaa-old'), { recursive: true });
      await cp(join(src, 'tokenizer.json'), join(base, 'snapshots', 'aaa-old', 'tokenizer.json'));
      await cp(src, join(base, 'snapshots', 'rev-main'), { recursive: true });
      return join(base, 'snapshots', 'rev-main');
    };
    const crossSnap = await place('cross-encoder/ms-marco-MiniLM-L-6-v2', crossDir);
    const biSnap = await place('sentence-transformers/all-MiniLM-L6-v2', biDir);
    const home = join(root, 'home');
    assert.equal(findHubSnapshot('cross-encoder/ms-marco-MiniLM-L-6-v2', { HF_HOME: join(root, 'hf-home'), HOME: home }), crossSnap);
    assert.equal(findHubSnapshot('cross-encoder/ms-marco-MiniLM-L-6-v2', { HF_HUB_CACHE: cache }), crossSnap);
    assert.equal(findHubSnapshot('cross-encoder/ms-marco-MiniLM-L-6-v2', { HF_HUB_CACHE: join(root, 'empty') }), null);

    const generatedRoot = join(root, 'must-stay-empty');
    const env = { ...process.env, HF_HUB_CACHE: cache, HOME: home, CROSSGATE_MODELS_DIR: generatedRoot };
    const r = spawnSync(process.execPath, [CLI, 'demo', '--top-k', '2'], { encoding: 'utf8', timeout: 120_000, env });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.includes(`Hugging Face cache: ${crossSnap}`), r.stdout.slice(0, 400));
    assert.ok(r.stdout.includes(`Hugging Face cache: ${biSnap}`));
    assert.match(r.stdout, /RANDOM-WEIGHT MODELS/, 'the generator stamp is honoured wherever the model sits');
    assert.equal(existsSync(generatedRoot), false, 'nothing was generated');

    // Without the generator's stamp a model counts as real: no banner, no [random weights] marks.
    for (const snap of [crossSnap, biSnap]) {
      const config = JSON.parse(await readFile(join(snap, 'config.json'), 'utf8'));
      delete config.crossgate_generator;
      await writeFile(join(snap, 'config.json'), JSON.stringify(config));
    }
    const real = spawnSync(process.execPath, [CLI, 'demo', '--top-k', '2'], { encoding: 'utf8', timeout: 120_000, env });
    assert.equal(real.status, 0, real.stderr);
    assert.doesNotMatch(real.stdout, /RANDOM-WEIGHT|random weights/);
    assert.match(real.stdout, /more relevant than Passage [12] by cross-encoder probability\.\n/);
  });
});
