// `crossgate ingest` and `crossgate search --retriever` as a user runs them: BEIR and crossgate JSONL in,
// the same JSON out as a built-in collection, a re-run that loads nothing twice, and one-line errors.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGenerated } from '../models/generate.js';
import { DEMO_CORPUS } from '../src/pipeline/demo-corpus.js';
import { freePort, startChroma, startPostgres, type ChromaServer, type PostgresServer } from './95.retrievers.engines.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

interface Run { code: number | null; stdout: string; stderr: string }
/** Runs the CLI without blocking this process (the engines' output pipes keep draining). */
function crossgate(args: string[], input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, CROSSGATE_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}
function ok(r: Run): Run {
  assert.equal(r.code, 0, `exit ${r.code}; stderr: ${r.stderr}`);
  return r;
}

// Half the corpus as crossgate lines, half as BEIR lines ({_id, title, text}).
const JSONL = DEMO_CORPUS.map((d, i) => JSON.stringify(i % 2 === 0 ? { id: d.id, text: d.text, ...d.metadata } : { _id: d.id, title: String(d.metadata?.topic), text: d.text })).join('\n') + '\n';
const QUERY = 'how do I train a puppy';

describe('crossgate ingest / search --retriever (real engines)', () => {
  let root: string;
  let chroma: ChromaServer;
  let pgs: PostgresServer;
  let biDir: string;
  let crossDir: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-retriever-cli-'));
    [chroma, pgs, biDir, crossDir] = await Promise.all([
      startChroma(),
      startPostgres(),
      ensureGenerated('tiny-bi', { root: join(root, 'models') }),
      ensureGenerated('tiny-cross', { root: join(root, 'models') }),
    ]);
  });
  after(async () => {
    await chroma?.stop();
    await pgs?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('ingest into Chroma, then search prints what search --index prints for the same corpus', async () => {
    const url = chroma.url('cli');
    const first = ok(await crossgate(['ingest', '--to', url, '--bi-encoder', biDir, '--batch-size', '4'], JSONL));
    assert.match(first.stderr, new RegExp(`ingested into chroma: ${DEMO_CORPUS.length} added, 0 skipped`));
    assert.match(first.stderr, /ingesting: 100%/);
    const again = ok(await crossgate(['ingest', '--to', url, '--bi-encoder', biDir], JSONL));
    assert.match(again.stderr, new RegExp(`0 added, ${DEMO_CORPUS.length} skipped`), 'a re-run loads nothing twice');

    const index = join(root, 'built-in');
    ok(await crossgate(['index', 'build', '--bi-encoder', biDir, '--out', index], JSONL)); // the same lines, BEIR ones included
    // The collection records its bi-encoder, so search needs no --bi-encoder (as with --index).
    const viaChroma = JSON.parse(ok(await crossgate(['search', '--retriever', url, '--query', QUERY, '--top-k', '4', '--json'])).stdout);
    const viaIndex = JSON.parse(ok(await crossgate(['search', '--index', index, '--query', QUERY, '--top-k', '4', '--json'])).stdout);
    assert.deepEqual(viaChroma.hits.map((h: { id: string }) => h.id), viaIndex.hits.map((h: { id: string }) => h.id));
    assert.deepEqual(viaChroma.hits.map((h: { metadata: unknown }) => h.metadata), viaIndex.hits.map((h: { metadata: unknown }) => h.metadata));

    const decChroma = JSON.parse(ok(await crossgate(['search', '--retriever', url, '--bi-encoder', biDir, '--cross-encoder', crossDir, '--query', QUERY, '--threshold', '0.5', '--json'])).stdout);
    // Chroma serves dense retrieval only, so the built-in side runs without its keyword fallback: the same path.
    const decIndex = JSON.parse(ok(await crossgate(['search', '--index', index, '--cross-encoder', crossDir, '--query', QUERY, '--threshold', '0.5', '--fallback', 'off', '--json'])).stdout);
    assert.deepEqual(Object.keys(decChroma).sort(), Object.keys(decIndex).sort(), 'same decision shape');
    assert.deepEqual(decChroma.candidates.map((c: { id: string }) => c.id), decIndex.candidates.map((c: { id: string }) => c.id));
    assert.equal(decChroma.outcome, decIndex.outcome);
    assert.equal(decChroma.prompt, decIndex.prompt);
  });

  it('ingest into PostgreSQL, then search ranks by its full-text search', async () => {
    pgs.psql('CREATE DATABASE cli');
    const url = pgs.url('cli', '?table=docs');
    ok(await crossgate(['ingest', '--to', url], JSONL));
    const out = JSON.parse(ok(await crossgate(['search', '--retriever', url, '--query', 'weasel', '--json'])).stdout);
    assert.deepEqual(out.hits.map((h: { id: string }) => h.id).sort(), ['mammal-1', 'mammal-4']);
    assert.deepEqual(Object.keys(out.hits[0]).sort(), ['id', 'metadata', 'score', 'text']);
    const beir = out.hits.find((h: { id: string }) => h.id === 'mammal-4');
    assert.deepEqual(beir.metadata, { title: 'small-mammals' }, 'a BEIR line keeps its title as metadata');
  });

  it('fails with one line naming the engine and the fix', async () => {
    const dead = await freePort();
    const r = await crossgate(['search', '--retriever', `postgres://postgres@127.0.0.1:${dead}/x`, '--query', 'q']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^crossgate search: PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/x is not reachable \(ECONNREFUSED\); start it or fix the host\/port in the URL\n$/);
    const c = await crossgate(['ingest', '--to', chroma.url('x')], JSONL);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /--bi-encoder is required for chroma:\/\//);
    const bad = await crossgate(['ingest', '--to', pgs.url('cli')], '{"_id": "a"}\n');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /stdin line 1: "text" is missing/);
  });
});
