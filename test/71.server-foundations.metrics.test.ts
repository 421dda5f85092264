import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServerMetrics, exponentialBuckets, Registry, PROMETHEUS_CONTENT_TYPE } from '../src/server/metrics.js';

interface Sample { name: string; labels: Record<string, string>; value: number }
interface Family { help: string; type: string; samples: Sample[] }

/** A strict reader for Prometheus text format 0.0.4, enough to check what a scraper would see. */
function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'exposition ends with a newline');
  const families = new Map<string, Family>();
  let current: string | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line))) {
      assert.ok(!families.has(m[1]), `duplicate family ${m[1]}`);
      families.set(m[1], { help: m[2], type: '', samples: [] });
      current = m[1];
    } else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      assert.equal(m[1], current, 'TYPE follows its HELP');
      families.get(m[1])!.type = m[2];
    } else {
      m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
      const [, name, rawLabels, rawValue] = m;
      const labels: Record<string, string> = {};
      if (rawLabels) {
        const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
        let pos = 0;
        while (pos < rawLabels.length) {
          re.lastIndex = pos;
          const lm = re.exec(rawLabels);
          assert.ok(lm, `bad labels in ${line}`);
          labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
          pos = re.lastIndex;
        }
      }
      const value = rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : Number(rawValue);
      assert.ok(!Number.isNaN(value) || rawValue === 'NaN', `bad value in ${line}`);
      assert.ok(current && (name === current || name.startsWith(`${current}_`)), `${name} outside its family ${current}`);
      families.get(current)!.samples.push({ name, labels, value });
    }
  }
  return families;
}

test('counters, gauges and histograms render as valid text format with labels, cumulative buckets, sum and count', () => {
  const r = new Registry();
  const c = r.counter('t_requests_total', 'Requests.\nSecond line \\ backslash.', ['route', 'status']);
  c.inc({ route: '/rerank', status: 200 });
  c.inc({ route: '/rerank', status: 200 }, 2);
  c.inc({ route: '/rerank', status: 422 });
  c.inc({ route: 'we"ird\\\n', status: 500 });
  const g = r.gauge('t_queue', 'Queue.');
  g.set(undefined, 7);
  g.dec();
  const h = r.histogram('t_latency_seconds', 'Latency.', ['model'], [0.01, 0.1, 1]);
  for (const v of [0.005, 0.01, 0.05, 0.5, 5, 0.02]) h.observe({ model: 'a' }, v);
  h.observe({ model: 'a' }, Number.NaN); // ignored: one NaN would poison _sum for good
  const fam = parseExposition(r.render());

  const req = fam.get('t_requests_total')!;
  assert.equal(req.type, 'counter');
  assert.equal(req.help, 'Requests.\\nSecond line \\\\ backslash.');
  const val = (f: Family, name: string, labels: Record<string, string>) =>
    f.samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
  assert.equal(val(req, 't_requests_total', { route: '/rerank', status: '200' }), 3);
  assert.equal(val(req, 't_requests_total', { route: '/rerank', status: '422' }), 1);
  assert.equal(val(req, 't_requests_total', { route: 'we"ird\\\n', status: '500' }), 1, 'label values are escaped and read back');

  const q = fam.get('t_queue')!;
  assert.equal(q.type, 'gauge');
  assert.deepEqual(q.samples, [{ name: 't_queue', labels: {}, value: 6 }]);

  const lat = fam.get('t_latency_seconds')!;
  assert.equal(lat.type, 'histogram');
  const buckets = lat.samples.filter((s) => s.name === 't_latency_seconds_bucket').map((s) => [s.labels.le, s.value]);
  assert.deepEqual(buckets, [['0.01', 2], ['0.1', 4], ['1', 5], ['+Inf', 6]], 'le is inclusive and buckets are cumulative');
  assert.equal(val(lat, 't_latency_seconds_count', { model: 'a' }), 6);
  assert.ok(Math.abs(val(lat, 't_latency_seconds_sum', { model: 'a' })! - 5.585) < 1e-9);
  assert.ok(lat.samples.every((s) => s.labels.model === 'a'));
});

test('misuse is refused: wrong labels, counters going down, bad names, bad buckets, duplicates', () => {
  const r = new Registry();
  const c = r.counter('x_total', 'x', ['route']);
  assert.throws(() => c.inc({ rout: '/a' } as never), /x_total takes labels \{route\}; got \{rout\}/);
  assert.throws(() => c.inc(undefined as never), /takes labels \{route\}; got \{\}/);
  assert.throws(() => c.inc({ route: '/a' }, -1), /a counter only goes up/);
  assert.throws(() => r.counter('x_total', 'again'), /already registered/);
  assert.throws(() => r.gauge('bad-name', 'x'), /not a valid Prometheus name/);
  assert.throws(() => r.gauge('g', 'x', ['__reserved']), /label name '__reserved' is not valid/);
  assert.throws(() => r.histogram('h1', 'x', ['le'], [1]), /'le' is reserved/);
  assert.throws(() => r.histogram('h2', 'x', [], [1, 1]), /strictly increasing/);
  assert.deepEqual(exponentialBuckets(0.001, 10, 4), [0.001, 0.01, 0.1, 1]);
});

test('label sets past the series cap are dropped and counted instead of growing memory', () => {
  const r = new Registry(3);
  const c = r.counter('y_total', 'y', ['route']);
  for (let i = 0; i < 10; i++) c.inc({ route: `/r${i}` });
  const fam = parseExposition(r.render());
  assert.equal(fam.get('y_total')!.samples.length, 3);
  assert.equal(fam.get('crossgate_metrics_dropped_series_total')!.samples[0].value, 7);
  c.inc({ route: '/r0' }); // existing series still count
  assert.equal(c.get({ route: '/r0' }), 2);
});

test('the server metric set renders every metric the issue asks for', async () => {
  const m = createServerMetrics();
  let queued = 0;
  m.queueSize.collect((g) => g.set({ model: 'tiny-cross' }, queued));
  queued = 37;
  m.requests.inc({ route: '/rerank', status: 200 });
  m.requests.inc({ route: 'ws:rerank', status: 429 });
  m.batchSize.observe({ model: 'tiny-cross' }, 24);
  m.batchTokens.observe({ model: 'tiny-cross' }, 3000);
  m.paddingWaste.observe({ model: 'tiny-cross' }, 0.12);
  m.tokens.inc({ model: 'tiny-cross', kind: 'real' }, 2678);
  m.tokens.inc({ model: 'tiny-cross', kind: 'padded' }, 3000);
  for (const stage of ['tokenization', 'queue', 'inference'] as const) m.stageSeconds.observe({ model: 'tiny-cross', stage }, 0.003);
  await m.requestSeconds.time({ route: '/rerank' }, async () => { await new Promise((res) => setTimeout(res, 5)); });
  m.gateOutcomes.inc({ outcome: 'answer' });
  m.gateOutcomes.inc({ outcome: 'no_relevant' });
  const fam = parseExposition(m.registry.render());
  const want: [string, string][] = [
    ['crossgate_requests_total', 'counter'], ['crossgate_requests_in_flight', 'gauge'], ['crossgate_ws_connections', 'gauge'],
    ['crossgate_queue_size', 'gauge'], ['crossgate_queue_tokens', 'gauge'], ['crossgate_batch_size', 'histogram'],
    ['crossgate_batch_tokens', 'histogram'], ['crossgate_batch_padding_waste_ratio', 'histogram'], ['crossgate_tokens_total', 'counter'],
    ['crossgate_stage_duration_seconds', 'histogram'], ['crossgate_request_duration_seconds', 'histogram'], ['crossgate_gate_outcomes_total', 'counter'],
  ];
  for (const [name, type] of want) assert.equal(fam.get(name)?.type, type, name);
  // Process memory, read at scrape time: the resident set covers the V8 heap in use, which fits its reservation.
  const mem = (name: string): number => fam.get(name)!.samples[0].value;
  for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes']) {
    assert.equal(fam.get(name)?.type, 'gauge', name);
    assert.ok(mem(name) > 0, `${name} = ${mem(name)}`);
  }
  assert.ok(mem('nodejs_heap_size_used_bytes') <= mem('nodejs_heap_size_total_bytes'));
  assert.ok(mem('process_resident_memory_bytes') > mem('nodejs_heap_size_used_bytes'));
  const rssNow = process.memoryUsage.rss();
  assert.ok(Math.abs(mem('process_resident_memory_bytes') - rssNow) < rssNow / 2, `scraped RSS ${mem('process_resident_memory_bytes')} vs this process's ${rssNow}`);
  assert.deepEqual(fam.get('crossgate_queue_size')!.samples, [{ name: 'crossgate_queue_size', labels: { model: 'tiny-cross' }, value: 37 }], 'gauge collected at scrape time');
  const stages = fam.get('crossgate_stage_duration_seconds')!.samples.filter((s) => s.name.endsWith('_count')).map((s) => s.labels.stage);
  assert.deepEqual(stages, ['tokenization', 'queue', 'inference']);
  const reqSum = fam.get('crossgate_request_duration_seconds')!.samples.find((s) => s.name.endsWith('_sum'))!.value;
  assert.ok(reqSum >= 0.004 && reqSum < 1, `timed ${reqSum}s`);
  const batch = fam.get('crossgate_batch_size')!.samples.filter((s) => s.name.endsWith('_bucket'));
  assert.equal(batch.find((s) => s.labels.le === '16')!.value, 0);
  assert.equal(batch.find((s) => s.labels.le === '32')!.value, 1);
  assert.equal(PROMETHEUS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
});
