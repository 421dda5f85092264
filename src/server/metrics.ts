// A small Prometheus registry (counters, gauges, histograms with labels) rendering text format 0.0.4,
// and the server's metric set. No dependency: the server needs three metric kinds and one renderer.

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The Content-Type for GET /metrics. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Series per metric. Labels must come from closed sets (routes, statuses, model names); the cap stops a
 * label fed from user input from growing memory without bound. Extra series are dropped and counted.
 */
export const DEFAULT_MAX_SERIES = 2000;

type Labels<L extends string> = Readonly<Record<L, string | number>>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

abstract class Metric<L extends string> {
  protected readonly series = new Map<string, { labels: string; state: unknown }>();

  constructor(
    protected readonly registry: Registry,
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
  ) {
    if (!METRIC_NAME.test(name)) throw new TypeError(`metric name '${name}' is not a valid Prometheus name`);
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new TypeError(`${name}: label name '${l}' is not valid`);
    }
    if (new Set(labelNames).size !== labelNames.length) throw new TypeError(`${name}: label names repeat`);
  }

  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  /** Canonical key + rendered label text for a label set; checks the names match the declaration. */
  protected key(labels: Labels<L> | undefined): string {
    const given = labels ? Object.keys(labels) : [];
    if (given.length !== this.labelNames.length || this.labelNames.some((l) => !(labels && l in labels))) {
      throw new TypeError(`${this.name} takes labels {${this.labelNames.join(', ')}}; got {${given.join(', ')}}`);
    }
    return this.labelNames.map((l) => `${l}="${escapeLabel(String(labels![l]))}"`).join(',');
  }

  protected slot<S>(labels: Labels<L> | undefined, init: () => S): S | undefined {
    const k = this.key(labels);
    let s = this.series.get(k);
    if (!s) {
      if (this.series.size >= this.registry.maxSeries) {
        this.registry.droppedSeries++;
        return undefined;
      }
      s = { labels: k, state: init() };
      this.series.set(k, s);
    }
    return s.state as S;
  }

  /** Drops every series (tests, or a model being unloaded). */
  reset(): void { this.series.clear(); }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`);
    this.renderSeries(out);
  }
  protected abstract renderSeries(out: string[]): void;

  protected static braces(labels: string): string {
    return labels ? `{${labels}}` : '';
  }
}

export class Counter<L extends string = never> extends Metric<L> {
  readonly type = 'counter';

  inc(labels?: Labels<L>, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) throw new RangeError(`${this.name}: a counter only goes up; got inc(${by})`);
    const s = this.slot(labels, () => ({ v: 0 }));
    if (s) s.v += by;
  }

  get(labels?: Labels<L>): number {
    return (this.series.get(this.key(labels))?.state as { v: number } | undefined)?.v ?? 0;
  }

  protected renderSeries(out: string[]): void {
    for (const s of this.series.values()) out.push(`${this.name}${Metric.braces(s.labels)} ${formatValue((s.state as { v: number }).v)}`);
  }
}

export class Gauge<L extends string = never> extends Metric<L> {
  readonly type = 'gauge';
  private collector: ((g: Gauge<L>) => void) | undefined;

  set(labels: Labels<L> | undefined, v: number): void {
    const s = this.slot(labels, () => ({ v: 0 }));
    if (s) s.v = v;
  }
  inc(labels?: Labels<L>, by = 1): void {
    const s = this.slot(labels, () => ({ v: 0 }));
    if (s) s.v += by;
  }
  dec(labels?: Labels<L>, by = 1): void { this.inc(labels, -by); }

  get(labels?: Labels<L>): number {
    return (this.series.get(this.key(labels))?.state as { v: number } | undefined)?.v ?? 0;
  }

  /** Called at scrape time, for values cheaper to read than to track (queue sizes). */
  collect(fn: (g: Gauge<L>) => void): this {
    this.collector = fn;
    return this;
  }

  override render(out: string[]): void {
    this.collector?.(this);
    super.render(out);
  }

  protected renderSeries(out: string[]): void {
    // A gauge without labels has one value from the start: 0 until set, so the first scrape has a sample.
    if (this.series.size === 0 && this.labelNames.length === 0) out.push(`${this.name} 0`);
    for (const s of this.series.values()) out.push(`${this.name}${Metric.braces(s.labels)} ${formatValue((s.state as { v: number }).v)}`);
  }
}

interface HistogramState { counts: Float64Array; sum: number; count: number }

export class Histogram<L extends string = never> extends Metric<L> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];

  constructor(registry: Registry, name: string, help: string, labelNames: readonly L[], buckets: readonly number[]) {
    super(registry, name, help, labelNames);
    if ((labelNames as readonly string[]).includes('le')) throw new TypeError(`${name}: 'le' is reserved for histogram buckets`);
    const b = buckets.filter((x) => x !== Infinity);
    if (b.length === 0 || b.some((x, i) => !Number.isFinite(x) || (i > 0 && x <= b[i - 1]))) {
      throw new TypeError(`${name}: buckets must be finite and strictly increasing; got [${buckets.join(', ')}]`);
    }
    this.buckets = b;
  }

  observe(labels: Labels<L> | undefined, v: number): void {
    if (Number.isNaN(v)) return; // a NaN would poison _sum forever
    const s = this.slot<HistogramState>(labels, () => ({ counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }));
    if (!s) return;
    // Non-cumulative counts here; render() accumulates. Linear scan: bucket lists are ~10-15 long.
    for (let i = 0; i < this.buckets.length; i++) {
      if (v <= this.buckets[i]) { s.counts[i]++; break; }
    }
    s.sum += v;
    s.count++;
  }

  /** Times `fn` in seconds. */
  async time<T>(labels: Labels<L> | undefined, fn: () => Promise<T>): Promise<T> {
    const t0 = process.hrtime.bigint();
    try {
      return await fn();
    } finally {
      this.observe(labels, Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }

  snapshot(labels?: Labels<L>): { buckets: number[]; sum: number; count: number } | undefined {
    const s = this.series.get(this.key(labels))?.state as HistogramState | undefined;
    return s && { buckets: Array.from(s.counts), sum: s.sum, count: s.count };
  }

  protected renderSeries(out: string[]): void {
    for (const { labels, state } of this.series.values()) {
      const s = state as HistogramState;
      const sep = labels ? ',' : '';
      let cum = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cum += s.counts[i];
        out.push(`${this.name}_bucket{${labels}${sep}le="${formatValue(this.buckets[i])}"} ${cum}`);
      }
      out.push(`${this.name}_bucket{${labels}${sep}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${Metric.braces(labels)} ${formatValue(s.sum)}`);
      out.push(`${this.name}_count${Metric.braces(labels)} ${s.count}`);
    }
  }
}

/** Exponential bucket bounds: start, start*factor, ... (count values). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  if (!(start > 0) || !(factor > 1) || !(count >= 1)) throw new RangeError('exponentialBuckets needs start > 0, factor > 1, count >= 1');
  return Array.from({ length: count }, (_, i) => Number((start * factor ** i).toPrecision(12)));
}

export class Registry {
  private readonly metrics = new Map<string, { render(out: string[]): void }>();
  droppedSeries = 0;

  constructor(readonly maxSeries = DEFAULT_MAX_SERIES) {}

  private add<M extends { name: string; render(out: string[]): void }>(m: M): M {
    if (this.metrics.has(m.name)) throw new TypeError(`metric '${m.name}' is already registered`);
    this.metrics.set(m.name, m);
    return m;
  }

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.add(new Counter<L>(this, name, help, labelNames));
  }
  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return this.add(new Gauge<L>(this, name, help, labelNames));
  }
  histogram<L extends string = never>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): Histogram<L> {
    return this.add(new Histogram<L>(this, name, help, labelNames, buckets));
  }

  /** The whole registry in Prometheus text format 0.0.4. */
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics.values()) m.render(out);
    out.push('# HELP crossgate_metrics_dropped_series_total Label sets refused because a metric reached its series cap.',
      '# TYPE crossgate_metrics_dropped_series_total counter',
      `crossgate_metrics_dropped_series_total ${this.droppedSeries}`);
    return `${out.join('\n')}\n`;
  }
}

// ---------------------------------------------------------------------------------------------
// The server's metrics
// ---------------------------------------------------------------------------------------------

/** Seconds, 100 us .. ~26 s: covers a tokenizer call on one pair up to a full queue wait. */
export const DURATION_BUCKETS = exponentialBuckets(0.0001, 2, 19);
/** Pairs per batch. */
export const BATCH_SIZE_BUCKETS = exponentialBuckets(1, 2, 11);          // 1 .. 1024
/** Padded tokens per batch. */
export const BATCH_TOKENS_BUCKETS = exponentialBuckets(64, 2, 12);       // 64 .. 131072
/** padded/real - 1 per batch: 0 = no padding, 1 = as many pad tokens as real ones. */
export const PADDING_WASTE_BUCKETS = [0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 4];

export type Stage = 'tokenization' | 'queue' | 'inference';

export interface ServerMetrics {
  registry: Registry;
  /** route = the route pattern ("/rerank", "ws:rerank", "other"), never the raw URL. */
  requests: Counter<'route' | 'status'>;
  inflight: Gauge;
  wsConnections: Gauge;
  queueSize: Gauge<'model'>;
  queueTokens: Gauge<'model'>;
  retrieverUp: Gauge<'engine'>;
  retrieverErrors: Counter<'engine' | 'kind'>;
  batchSize: Histogram<'model'>;
  batchTokens: Histogram<'model'>;
  paddingWaste: Histogram<'model'>;
  tokens: Counter<'model' | 'kind'>;
  stageSeconds: Histogram<'model' | 'stage'>;
  requestSeconds: Histogram<'route'>;
  gateOutcomes: Counter<'outcome'>;
  /** Decisions of the flow (/search, /ask, WS search): answer, answer_from_fallback, ambiguous, no_relevant. */
  decisions: Counter<'outcome'>;
  /** (no_relevant + ambiguous) / decisions since start: how often the collection had no confident answer. */
  noAnswerRate: Gauge;
  /**
   * Process memory at scrape time, under the names the Prometheus Node.js client uses: resident set, the
   * V8 heap used and reserved, and memory outside the V8 heap held by JS objects (Buffers, typed arrays).
   * Resident growth with a flat heap points at native memory (ONNX Runtime, the indexes); growth of the
   * heap points at JS.
   */
  residentMemory: Gauge;
  heapUsed: Gauge;
  heapTotal: Gauge;
  externalMemory: Gauge;
}

export function createServerMetrics(registry = new Registry()): ServerMetrics {
  const decisions = registry.counter<'outcome'>('crossgate_decisions_total', 'Decisions of the flow by outcome: answer, answer_from_fallback, ambiguous, no_relevant.', ['outcome']);
  return {
    registry,
    requests: registry.counter('crossgate_requests_total', 'Requests by route and HTTP status (WS requests use the status their outcome maps to).', ['route', 'status']),
    inflight: registry.gauge('crossgate_requests_in_flight', 'Requests accepted and not yet finished, HTTP and WS together.'),
    wsConnections: registry.gauge('crossgate_ws_connections', 'Open WebSocket connections.'),
    queueSize: registry.gauge('crossgate_queue_size', 'Pairs waiting for a batch, per model.', ['model']),
    queueTokens: registry.gauge('crossgate_queue_tokens', 'Tokens waiting for a batch, per model (limit: max_queue_tokens).', ['model']),
    retrieverUp: registry.gauge('crossgate_retriever_up', 'Whether the outside retriever (serve --retriever) answered its last query or check: 1 yes, 0 no.', ['engine']),
    retrieverErrors: registry.counter('crossgate_retriever_errors_total', 'Failed retriever queries and checks, by kind (unreachable, not_found, dimension, timeout, engine).', ['engine', 'kind']),
    batchSize: registry.histogram('crossgate_batch_size', 'Pairs per inference batch.', ['model'], BATCH_SIZE_BUCKETS),
    batchTokens: registry.histogram('crossgate_batch_tokens', 'Padded tokens per inference batch (limit: max_batch_tokens).', ['model'], BATCH_TOKENS_BUCKETS),
    paddingWaste: registry.histogram('crossgate_batch_padding_waste_ratio', 'Padding per batch: padded tokens / real tokens - 1.', ['model'], PADDING_WASTE_BUCKETS),
    tokens: registry.counter('crossgate_tokens_total', 'Tokens through inference; kind="real" or "padded" (their ratio is the padding waste).', ['model', 'kind']),
    stageSeconds: registry.histogram('crossgate_stage_duration_seconds', 'Time per stage: tokenization, queue wait, inference.', ['model', 'stage'], DURATION_BUCKETS),
    requestSeconds: registry.histogram('crossgate_request_duration_seconds', 'Time from request received to last byte queued for sending.', ['route'], DURATION_BUCKETS),
    gateOutcomes: registry.counter('crossgate_gate_outcomes_total', 'Threshold gate decisions: answer or no_relevant.', ['outcome']),
    decisions,
    noAnswerRate: registry.gauge('crossgate_no_answer_rate', 'Share of decisions since start with no confident answer (no_relevant + ambiguous); 0 before the first.').collect((g) => {
      const n = (o: string): number => decisions.get({ outcome: o } as never);
      const total = n('answer') + n('answer_from_fallback') + n('ambiguous') + n('no_relevant');
      g.set(undefined, total > 0 ? (n('no_relevant') + n('ambiguous')) / total : 0);
    }),
    residentMemory: registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes (the whole process: V8, native code, ONNX Runtime, the indexes).')
      .collect((g) => g.set(undefined, process.memoryUsage.rss())),
    heapUsed: registry.gauge('nodejs_heap_size_used_bytes', 'V8 heap in use, in bytes.').collect((g) => g.set(undefined, process.memoryUsage().heapUsed)),
    heapTotal: registry.gauge('nodejs_heap_size_total_bytes', 'V8 heap reserved, in bytes.').collect((g) => g.set(undefined, process.memoryUsage().heapTotal)),
    externalMemory: registry.gauge('nodejs_external_memory_bytes', 'Memory held by JS objects outside the V8 heap (Buffers, typed arrays), in bytes.')
      .collect((g) => g.set(undefined, process.memoryUsage().external)),
  };
}
