// Keyword retrieval through a real PostgreSQL server (Debian's, on a throwaway data directory): the
// candidates are exactly what PostgreSQL's own full-text SQL returns (checked through psql, not the
// adapter), the gate decides on them as it does on the same passages given directly, metadata filters,
// resumable ingest, and a clear error for each way the engine can fail.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGenerated } from '../models/generate.js';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { DEMO_CORPUS } from '../src/pipeline/demo-corpus.js';
import { PrecisionPipeline, rerank } from '../src/pipeline/precision.js';
import { asPipelineSource, fromUrl, PostgresRetriever } from '../src/retrievers/index.js';
import { expectRetrieverError, freePort, once, withHungServer, startPostgres, type PostgresServer } from './95.retrievers.engines.js';

const QUERIES = [
  'dogs and wolves',
  'weasel family',
  '"tomato sauce" -steak',
  'fund OR funds',
  'domesticated',
  'black holes',
];

describe('postgres retriever (real PostgreSQL server)', () => {
  let root: string;
  let pgs: PostgresServer;
  let cross: CrossEncoder;
  let retriever: PostgresRetriever;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'crossgate-pg-test-'));
    [pgs, cross] = await Promise.all([startPostgres(), ensureGenerated('tiny-cross', { root: join(root, 'models') }).then((d) => CrossEncoder.load(d))]);
    pgs.psql('CREATE DATABASE corpus');
    const loader = await PostgresRetriever.openForIngest(pgs.url('corpus'));
    assert.deepEqual(await loader.ingest(once([...DEMO_CORPUS])), { added: DEMO_CORPUS.length, skipped: 0 });
    await loader.close();
    retriever = await PostgresRetriever.open(pgs.url('corpus'));
  });
  after(async () => {
    await retriever?.close();
    await cross?.close();
    await pgs?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('loads a GIN-indexed tsvector table (English configuration)', () => {
    const idx = pgs.psql("SELECT indexdef FROM pg_indexes WHERE tablename = 'crossgate_documents' AND indexdef LIKE '%gin%'", 'corpus');
    assert.equal(idx.length, 1, 'one GIN index');
    assert.match(idx[0], /USING gin \(tsv\)/);
    // English stemming: "walks" and "walk" meet in the same lexeme.
    assert.deepEqual(pgs.psql("SELECT id FROM crossgate_documents WHERE tsv @@ websearch_to_tsquery('english', 'walk') ORDER BY id", 'corpus'), ['dog-3']);
  });

  it('returns exactly the rows PostgreSQL\'s own full-text query ranks first, in its order', async () => {
    for (const q of QUERIES) {
      const quoted = q.replace(/'/g, "''");
      const want = pgs.psql(
        `SELECT id, ts_rank_cd(tsv, websearch_to_tsquery('english', '${quoted}')) FROM crossgate_documents
          WHERE tsv @@ websearch_to_tsquery('english', '${quoted}') ORDER BY 2 DESC, id LIMIT 5`,
        'corpus',
      ).map((l) => l.split('\t'));
      if (q !== 'black holes') assert.ok(want.length > 0, `${q}: the corpus has matches`);
      const got = await retriever.retrieve(q, { k: 5 });
      assert.deepEqual(got.map((c) => c.id), want.map((w) => w[0]), q);
      got.forEach((c, i) => {
        assert.ok(Math.abs(c.score - Number(want[i][1])) < 1e-6, `${q}[${i}] ts_rank_cd ${c.score} vs ${want[i][1]}`);
        assert.equal(c.text, DEMO_CORPUS.find((d) => d.id === c.id)!.text);
        assert.deepEqual(c.metadata, DEMO_CORPUS.find((d) => d.id === c.id)!.metadata);
        assert.deepEqual(c.sources?.keyword?.rank, i + 1);
      });
    }
    assert.deepEqual(await retriever.retrieve('black holes', { k: 5 }), [], 'no lexeme in the corpus: no candidates, not an error');
    assert.deepEqual((await retriever.retrieve('"tomato sauce" -steak', { k: 5 })).map((c) => c.id), ['cook-1'], 'websearch syntax: phrase and exclusion');
  });

  it('gates the candidates it returns exactly as the same passages given directly (acceptance)', async () => {
    const outcomes = new Set<string>();
    for (const q of QUERIES.filter((x) => x !== 'black holes')) {
      const hits = await retriever.retrieve(q, { k: 5 });
      const direct = await rerank(cross, q, hits.map((h) => h.text), { threshold: 0.5 });
      const viaPg = await new PrecisionPipeline({ collection: asPipelineSource(retriever), crossEncoder: cross, topK: 5, threshold: 0.5 }).search(q);
      assert.deepEqual(viaPg.candidates.map((c) => c.id), hits.map((h) => h.id), q);
      assert.deepEqual(viaPg.candidates.map((c) => c.probability), direct.candidates.map((c) => c.probability), q);
      assert.equal(viaPg.outcome, direct.outcome, q);
      assert.deepEqual(viaPg.kept.map((c) => c.text), direct.kept.map((c) => c.text), q);
      viaPg.candidates.forEach((c, i) => assert.equal(c.retrievalScore, hits[i].score));
      outcomes.add(viaPg.outcome);
    }
    const none = await new PrecisionPipeline({ collection: asPipelineSource(retriever), crossEncoder: cross, topK: 5, threshold: 0.5 }).search('black holes');
    assert.equal(none.outcome, 'no_relevant');
    assert.equal(none.candidates.length, 0);
  });

  it('filters on metadata (jsonb containment)', async () => {
    const all = await retriever.retrieve('domesticated OR dogs', { k: 50 });
    assert.ok(all.some((c) => c.metadata?.topic !== 'dogs'), 'the query also matches other topics');
    const dogs = await retriever.retrieve('domesticated OR dogs', { k: 50, filter: { topic: 'dogs' } });
    assert.deepEqual(dogs.map((c) => c.id), all.filter((c) => c.metadata?.topic === 'dogs').map((c) => c.id));
  });

  it('ingest resumes: ids already present are skipped, a named table is created', async () => {
    const url = pgs.url('corpus', '?table=resume_docs');
    const loader = await PostgresRetriever.openForIngest(url);
    try {
      assert.deepEqual(await loader.ingest(once(DEMO_CORPUS.slice(0, 5))), { added: 5, skipped: 0 });
      const progress: [number, number][] = [];
      const r = await loader.ingest((async function* () { yield DEMO_CORPUS.slice(0, 8); yield DEMO_CORPUS.slice(8); })(), { onProgress: (a, s) => progress.push([a, s]) });
      assert.deepEqual(r, { added: DEMO_CORPUS.length - 5, skipped: 5 });
      assert.deepEqual(progress, [[3, 5], [DEMO_CORPUS.length - 5, 5]]);
    } finally {
      await loader.close();
    }
    assert.deepEqual(pgs.psql('SELECT count(*) FROM resume_docs', 'corpus'), [String(DEMO_CORPUS.length)]);
  });

  it('says which part failed: engine down, wrong database/table, not a crossgate table, timeout', async () => {
    const expectKind = expectRetrieverError;
    const dead = await freePort();
    await expectKind(fromUrl(`postgres://postgres@127.0.0.1:${dead}/corpus`), 'unreachable', /is not reachable \(ECONNREFUSED\)/);
    await expectKind(fromUrl(pgs.url('nodb')), 'not_found', /database "nodb" does not exist.*createdb/);
    await expectKind(fromUrl(pgs.url('corpus', '?table=nope')), 'not_found', /table "nope" does not exist.*crossgate ingest --to/);
    pgs.psql('CREATE TABLE plain (id text, body text)', 'corpus');
    await expectKind(fromUrl(pgs.url('corpus', '?table=plain')), 'not_found', /"plain" is not a crossgate table/);
    await expectKind(fromUrl(pgs.url('corpus', '?table=drop%20table')), 'invalid', /table is "drop table"; expected a plain identifier/);

    await withHungServer(async (port) => {
      await expectKind(fromUrl(`postgres://postgres@127.0.0.1:${port}/corpus?timeout_ms=300`), 'timeout', /timeout_ms=300/);
    });
    await expectKind(retriever.retrieve('x', { k: 3, mode: 'dense' }), 'invalid', /supports keyword/);
  });
});
