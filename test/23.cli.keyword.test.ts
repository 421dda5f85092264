// `crossgate index build --keyword` and `crossgate search --mode keyword` as a user runs them: BEIR and plain
// JSONL lines in, ranked ids and BM25 scores out in the same JSON shape as dense search.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGenerated } from '../models/generate.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
function crossgate(args: string[], input = ''): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', timeout: 120_000, env: { ...process.env, CROSSGATE_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('keyword CLI', () => {
  const root = mkdtempSync(join(tmpdir(), 'crossgate-kwcli-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('builds from BEIR and plain lines and searches with --mode keyword --json', () => {
    const lines = [
      JSON.stringify({ _id: 'd1', title: 'Time-sharing systems', text: 'Scheduling users on one computer.' }),
      JSON.stringify({ id: 'd2', text: 'Compilers translate programs.', year: 1970 }),
      JSON.stringify({ _id: 'd3', title: '', text: 'Operating systems run batch jobs.' }),
    ].join('\n');
    const out = join(root, 'c');
    const build = crossgate(['index', 'build', '--keyword', '--out', out], lines);
    assert.equal(build.code, 0, build.stderr);
    assert.match(build.stderr, /indexed 3 documents for keyword search/);
    const r = crossgate(['search', '--index', out, '--mode', 'keyword', '--top-k', '100', '--query', 'time sharing system', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { query: string; hits: { id: string; text: string; metadata?: Record<string, unknown>; score: number }[] };
    assert.equal(res.query, 'time sharing system');
    assert.deepEqual(res.hits.map((h) => h.id), ['d1', 'd3']);
    assert.deepEqual(Object.keys(res.hits[0]).sort(), ['id', 'metadata', 'score', 'text']);
    assert.deepEqual(res.hits[0].metadata, { title: 'Time-sharing systems' });
    assert.ok(res.hits[0].score > res.hits[1].score && res.hits[1].score > 0);
    // Default mode of a keyword-only collection is keyword; dense is a clear usage error.
    assert.equal(crossgate(['search', '--index', out, '--query', 'compilers', '--json']).code, 0);
    const dense = crossgate(['search', '--index', out, '--mode', 'dense', '--query', 'x']);
    assert.equal(dense.code, 2);
    assert.match(dense.stderr, /--mode dense needs vectors, but .* is a keyword-only collection/);
    const bad = crossgate(['search', '--index', out, '--mode', 'fuzzy', '--query', 'x']);
    assert.match(bad.stderr, /--mode is "fuzzy"; expected dense, keyword or hybrid/);
  });

  it('a collection built with a bi-encoder searches in all three modes; hybrid hits carry their sources', async () => {
    const bi = await ensureGenerated('tiny-bi', { root: join(root, 'models') });
    const lines = ['alpha beta', 'gamma delta', 'beta gamma E4021'].map((text, i) => JSON.stringify({ id: `d${i}`, text })).join('\n');
    const out = join(root, 'both');
    assert.equal(crossgate(['index', 'build', '--bi-encoder', bi, '--out', out], lines).code, 0);
    for (const mode of ['dense', 'keyword', 'hybrid']) {
      const r = crossgate(['search', '--index', out, '--mode', mode, '--top-k', '3', '--query', 'E4021 beta', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const hits = (JSON.parse(r.stdout) as { hits: { id: string; score: number; sources?: Record<string, { rank: number }> }[] }).hits;
      assert.ok(hits.length > 0, mode);
      if (mode === 'keyword') assert.equal(hits[0].id, 'd2');
      if (mode === 'hybrid') assert.ok(hits.every((h) => h.sources && (h.sources.dense || h.sources.keyword)));
      else assert.ok(hits.every((h) => h.sources === undefined));
    }
    const dense = join(root, 'dense');
    assert.equal(crossgate(['index', 'build', '--bi-encoder', bi, '--dense-only', '--out', dense], lines).code, 0);
    const r = crossgate(['search', '--index', dense, '--mode', 'keyword', '--query', 'beta']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--mode keyword needs a keyword index, but .* has none \(built with --dense-only/);
  });

  it('rejects --keyword with --bi-encoder, and lines without an id', () => {
    const both = crossgate(['index', 'build', '--keyword', '--bi-encoder', 'x', '--out', join(root, 'x')], '');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--keyword builds a keyword-only collection; drop --bi-encoder/);
    const noId = crossgate(['index', 'build', '--keyword', '--out', join(root, 'y')], '{"text": "x"}\n');
    assert.notEqual(noId.code, 0);
    assert.match(noId.stderr, /stdin line 1: "id" is missing/);
  });
});
