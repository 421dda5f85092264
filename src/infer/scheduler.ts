// Scheduler: one per loaded model. Every score()/embed() call (library, HTTP, WebSocket) enqueues its
// tokenized rows here; whenever a worker frees, the next micro-batch is formed from ALL pending rows.
//
// Policy, and why:
// - No timer. A batch is formed the moment a worker is free, from whatever is pending then; rows that
//   arrive while every worker is busy simply join the next batch. At most `capacity` (the worker count)
//   batches are in flight, so a late arrival never waits behind batches already fixed in a queue.
// - Length buckets. Pending rows sit in one FIFO per token length, so "the rows nearest in length" is
//   a walk over a few hundred buckets, not a sort. A batch is a contiguous run of the length-sorted
//   pending rows, cut by the planner's cost model (planCuts: padded cost + a per-run overhead), so
//   one request alone gets the same low padding as planMicroBatches.
// - Shortest remaining first. Each batch is anchored on the request with the least pending cost (ties:
//   the oldest), so a 3-passage call that arrives while 100-passage calls keep every worker busy goes
//   into the next batch that leaves instead of queueing behind whole large calls (head-of-line
//   blocking); among large calls, the one nearest completion goes first, which keeps their mean
//   latency at the FIFO level instead of spreading every call over the whole backlog.
// - No starvation. A request with waiting rows that has been passed over by STARVATION_ROUNDS x
//   capacity dispatches is the next anchor whatever its size, so a flood of small calls only slows a
//   large one down, never stops it.
// - Whole small requests. Under contention, a fresh anchor whose rows fit one batch and whose padding
//   to its longest row adds at most 1/4 of a batch (WHOLE_REQUEST_PADDING) goes out whole, and the batch is filled
//   with the nearest shorter rows of other requests by the same cut planner: a small call needs one
//   batch, not one per length group. Larger requests and the tails of large ones are cut by the
//   planner as before, so the padding this costs stays bounded by the small calls' own rows.
// - Balance. A batch takes at most its share of the pending cost (queued / workers), so one request
//   spreads over every worker and the last batches are the small ones (longest-processing-time first);
//   under load the share is simply maxBatchTokens. Cost is tokens plus attention's square term
//   (rowCost, attentionCostLength): counted in tokens, a request's two longest rows made one batch
//   that ran twice as long as everything else put together on the other worker.
// - Early first partial. A request that listens for partials gets, while it is untouched and the anchor,
//   a small first batch built around its shortest rows, so its first partial comes after a short run
//   instead of a full-budget one.
// - Cancellation removes a request's pending rows before they reach a worker; rows already running
//   finish and their results are dropped. A failed batch rejects only the requests it carried.
import { padRows, type EncodeOptions, type RaggedEncoding } from '../tokenize/index.js';
import { planCuts, rowCost, type BatchStats } from './batcher.js';
import { InferenceBackendError, InferenceClosedError, QueueFullError, RequestCancelledError } from './errors.js';
import type { RunInput, RunOutput } from './pool.js';

/** What a finished micro-batch contributes to one request. */
export interface PartialResult {
  /** Input positions (into the caller's passages/texts) that this micro-batch finished. */
  indices: Int32Array;
  /** Cross-encoder: logits/probabilities for those positions (same order as indices). */
  logits?: Float32Array;
  probabilities?: Float32Array;
  /** Bi-encoder: one vector per index. */
  vectors?: Float32Array[];
}

export interface RequestTimings {
  /** Encoding the texts into token ids. */
  tokenizationMs: number;
  /** From the moment its rows were queued until the first of them was handed to a worker. */
  queueMs: number;
  /** From its first row handed to a worker until its last batch came back (a span: batches overlap). */
  inferenceMs: number;
}

export interface ScheduleOptions extends EncodeOptions {
  /** Abort: pending rows of this request are dropped before inference; the promise rejects with RequestCancelledError. */
  signal?: AbortSignal;
  /** Called (on the main thread) as each micro-batch holding rows of this request finishes. */
  onPartial?: (p: PartialResult) => void;
  /**
   * Refuse instead of cutting: when an input (or pair) is over the max length, reject with InputTooLongError
   * naming the first one, before any row is queued. The inputs are tokenized once either way.
   */
  refuseTruncated?: boolean;
}

/** One finished micro-batch, for metrics. */
export interface BatchEvent { rows: number; realTokens: number; paddedTokens: number; inferenceMs: number }

/** Where batches run: a WorkerPool, or a stand-in in tests. */
export interface BatchRunner { run(input: RunInput): Promise<RunOutput> }

export interface SchedulerOptions {
  /** Batches in flight at once: the worker count. */
  capacity: number;
  maxBatchTokens: number;
  maxBatchRows: number;
  batchOverheadTokens: number;
  maxQueueTokens: number;
  padId: number;
  /** Names the model in error messages. */
  label?: string;
  /** Token length past which a row's attention costs more than its dense layers (rowCost): the
   *  planner and the per-worker share count cost in these units. Default Infinity: tokens only. */
  attentionCostLength?: number;
}

export interface SubmitOptions {
  signal?: AbortSignal;
  /** Rows of this request that a batch finished: row-major [indices.length, cols]. A throw rejects the request. */
  onRows?: (indices: Int32Array, data: Float32Array, cols: number) => void;
  tokenizationMs?: number;
}

export interface ScheduledOutput {
  /** Row-major [count, cols] in input order. */
  data: Float32Array;
  cols: number;
  stats: BatchStats;
  timings: RequestTimings;
}

/** Point-in-time queue counters. */
export interface SchedulerStats { queuedRows: number; queuedTokens: number; queuedRequests: number; inFlightBatches: number }

/** A request with onRows and at least this many tokens gets a small first batch (below it, one batch is quick anyway). */
export const EAGER_MIN_TOKENS = 2048;
/** The first batch of such a request holds about 1/(this x workers) of its tokens. */
export const EAGER_SPLIT = 8;
/** Floor of the per-batch share of pending tokens, so a lone request is not cut into crumbs. */
export const MIN_SHARE_TOKENS = 256;
/**
 * Under contention, a request that nothing has run of yet, whose rows fit one batch and whose padding
 * to its longest row adds at most 1/this of maxBatchTokens, goes out whole in one batch. Others, and the
 * tails of large ones, are cut by the planner: padding them to one length costs more than it saves.
 */
export const WHOLE_REQUEST_PADDING = 4;
/** A request passed over by this many rounds of `capacity` dispatches is the next anchor, whatever its size. */
export const STARVATION_ROUNDS = 8;

interface Request {
  enc: RaggedEncoding;
  count: number;
  tokens: number;
  /** Rows still waiting in the buckets. */
  pending: number;
  /** Rows not yet returned: waiting or running. */
  unfinished: number;
  pendingByLen: Int32Array;
  /** Sum of rowCost over the rows still waiting: the shortest-remaining-first key. */
  pendingCost: number;
  /** The scheduler's dispatch count when a batch last carried rows of it (or when it was queued). */
  servedAt: number;
  /** Arrival rank: ties in pendingCost go to the older request. */
  seq: number;
  maxPendingLen: number;
  minLen: number;
  /** Nothing of it has been handed to a worker yet. */
  fresh: boolean;
  eager: boolean;
  data: Float32Array | null;
  cols: number;
  stats: BatchStats;
  tokenizationMs: number;
  enqueuedAt: number;
  firstDispatchAt: number;
  lastDoneAt: number;
  settled: boolean;
  onRows: SubmitOptions['onRows'];
  resolve: (o: ScheduledOutput) => void;
  reject: (e: Error) => void;
  detach: () => void;
}

interface Entry { req: Request; row: number; len: number }

/** Pads rows from several requests' encodings into one [rows, seqLen] batch. */
function padEntries(entries: Entry[], seqLen: number, padId: number): RunInput {
  return { batchSize: entries.length, seqLen, ...padRows(entries.map((e) => ({ enc: e.req.enc, row: e.row })), seqLen, padId) };
}

/**
 * The pending rows of every request, in one FIFO per token length. Pure bookkeeping and batch
 * forming, no I/O; the Scheduler drives it.
 */
class PendingRows {
  readonly #buckets: Entry[][] = [];
  readonly #costLength: number;
  #rows = 0;
  #tokens = 0;
  #cost = 0;

  constructor(costLength: number) { this.#costLength = costLength; }

  get rows(): number { return this.#rows; }
  get tokens(): number { return this.#tokens; }
  /** Sum of rowCost over the waiting rows. */
  get cost(): number { return this.#cost; }

  add(req: Request): void {
    const { offsets } = req.enc;
    for (let i = 0; i < req.count; i++) {
      const len = offsets[i + 1] - offsets[i];
      while (this.#buckets.length <= len) this.#buckets.push([]);
      this.#buckets[len].push({ req, row: i, len });
      const c = rowCost(len, this.#costLength);
      this.#cost += c;
      req.pendingCost += c;
    }
    this.#rows += req.count;
    this.#tokens += req.tokens;
  }

  /** Drops every waiting row of `req` (cancel, failure, close); returns how many. */
  remove(req: Request): number {
    let removed = 0;
    for (let len = 0; len < req.pendingByLen.length; len++) {
      const n = req.pendingByLen[len];
      if (n === 0) continue;
      const b = this.#buckets[len];
      this.#buckets[len] = b.filter((e) => e.req !== req);
      removed += n;
      this.#tokens -= n * len;
      this.#cost -= n * rowCost(len, this.#costLength);
      req.pendingByLen[len] = 0;
    }
    this.#rows -= removed;
    req.pending = 0;
    req.pendingCost = 0;
    return removed;
  }

  /**
   * Takes the batch that holds the first waiting row of length `anchorLen`: the cheapest plan
   * (planCuts) over a window of the length-sorted rows around it, then the run containing it.
   */
  take(anchorLen: number, budget: number, rowCap: number, overhead: number): Entry[] {
    const W = 2 * rowCap; // a batch holds at most rowCap rows; the rest only steadies the cuts
    const before: Entry[] = []; // longer rows, nearest first
    for (let len = anchorLen + 1; len < this.#buckets.length && before.length < W; len++) {
      const b = this.#buckets[len];
      for (let i = b.length - 1; i >= 0 && before.length < W; i--) before.push(b[i]);
    }
    before.reverse();
    const after: Entry[] = []; // the anchor and shorter rows, oldest first within a length
    for (let len = Math.min(anchorLen, this.#buckets.length - 1); len >= 0 && after.length < W; len--) {
      const b = this.#buckets[len];
      for (let i = 0; i < b.length && after.length < W; i++) after.push(b[i]);
    }
    if (after.length === 0 || after[0].len !== anchorLen) throw new Error(`PendingRows.take: no waiting row of length ${anchorLen}`);
    const win = before.concat(after);
    const p = before.length;
    const lens = new Float64Array(win.length);
    for (let i = 0; i < win.length; i++) lens[i] = win[i].len;
    const cuts = planCuts(lens, budget, rowCap, overhead, this.#costLength);
    let i = 0;
    while (i + cuts[i] <= p) i += cuts[i];
    const batch = win.slice(i, i + cuts[i]);

    // The part before the anchor is the tail of each longer bucket; the rest is the head of each bucket.
    let k = 0;
    while (k < batch.length) {
      const len = batch[k].len;
      let c = 0;
      while (k < batch.length && batch[k].len === len) { c++; k++; }
      const b = this.#buckets[len];
      if (len > anchorLen) b.splice(b.length - c, c);
      else b.splice(0, c);
    }
    this.#taken(batch);
    return batch;
  }

  /**
   * Takes every waiting row of `req` (seqLen: its longest) plus, up to the budget and row cap, the
   * longest waiting rows of other requests that are no longer than that, as far as the cut planner
   * finds them worth their padding. The caller checks that req's rows fit one batch.
   */
  takeRequest(req: Request, budget: number, rowCap: number, overhead: number): Entry[] {
    const own: Entry[] = [];
    let seqLen = 0;
    for (let len = req.pendingByLen.length - 1; len >= 0; len--) {
      if (req.pendingByLen[len] === 0) continue;
      if (seqLen === 0) seqLen = len;
      const b = this.#buckets[len];
      const keep: Entry[] = [];
      for (const e of b) (e.req === req ? own : keep).push(e);
      this.#buckets[len] = keep;
    }
    const W = 2 * rowCap;
    const others: Entry[] = []; // the heads of the buckets at or below seqLen, longest first, oldest first within a length
    for (let len = Math.min(seqLen, this.#buckets.length - 1); len >= 0 && others.length < W; len--) {
      const b = this.#buckets[len];
      for (let i = 0; i < b.length && others.length < W; i++) others.push(b[i]);
    }
    // req's rows are padded to seqLen whatever happens, so the planner sees them at that length; it
    // never cuts inside a run of equal lengths that fits, so take[0] covers all of them.
    const lens = new Float64Array(own.length + others.length);
    lens.fill(seqLen, 0, own.length);
    for (let i = 0; i < others.length; i++) lens[own.length + i] = others[i].len;
    const ownCost = own.length * rowCost(seqLen, this.#costLength);
    const cuts = planCuts(lens, Math.max(budget, ownCost), Math.max(rowCap, own.length), overhead, this.#costLength);
    const fill = others.slice(0, Math.max(0, (cuts.length > 0 ? cuts[0] : 0) - own.length));
    let k = 0;
    while (k < fill.length) {
      const len = fill[k].len;
      let c = 0;
      while (k < fill.length && fill[k].len === len) { c++; k++; }
      this.#buckets[len].splice(0, c);
    }
    const batch = own.concat(fill);
    this.#taken(batch);
    return batch;
  }

  /** Bookkeeping for rows that left the buckets into a batch. */
  #taken(batch: Entry[]): void {
    for (const e of batch) {
      const c = rowCost(e.len, this.#costLength);
      e.req.pending--;
      e.req.pendingByLen[e.len]--;
      e.req.pendingCost -= c;
      if (e.req.pending === 0) e.req.pendingCost = 0; // no float drift left behind
      this.#tokens -= e.len;
      this.#cost -= c;
    }
    this.#rows -= batch.length;
    if (this.#rows === 0) this.#cost = 0;
  }
}

export class Scheduler {
  /** Called after each micro-batch comes back from a worker (success only), e.g. to feed metrics. */
  onBatch: ((b: BatchEvent) => void) | undefined;

  readonly #runner: BatchRunner;
  readonly #o: SchedulerOptions;
  readonly #rows: PendingRows;
  readonly #costLength: number;
  /** Requests in arrival order; the head is the oldest that may still have rows waiting. */
  #order: Request[] = [];
  #head = 0;
  #inFlight = 0;
  #closed = false;
  /** Batches dispatched so far: the clock of the starvation bound. */
  #dispatches = 0;
  #seq = 0;
  #cols = -1;
  #warnedOnBatch = false;

  constructor(runner: BatchRunner, opts: SchedulerOptions) {
    for (const k of ['capacity', 'maxBatchTokens', 'maxBatchRows', 'maxQueueTokens'] as const) {
      if (!Number.isInteger(opts[k]) || opts[k] < 1) throw new RangeError(`Scheduler: '${k}' is ${opts[k]}; expected an integer >= 1`);
    }
    const costLength = opts.attentionCostLength ?? Infinity;
    if (!(costLength >= 1)) throw new RangeError(`Scheduler: 'attentionCostLength' is ${costLength}; expected a number >= 1 (Infinity counts tokens only)`);
    this.#runner = runner;
    this.#o = { ...opts };
    this.#rows = new PendingRows(costLength);
    this.#costLength = costLength;
  }

  get queuedRows(): number { return this.#rows.rows; }
  get queuedTokens(): number { return this.#rows.tokens; }
  get inFlightBatches(): number { return this.#inFlight; }
  get closed(): boolean { return this.#closed; }

  stats(): SchedulerStats {
    let queuedRequests = 0;
    for (let i = this.#head; i < this.#order.length; i++) if (this.#order[i].pending > 0) queuedRequests++;
    return { queuedRows: this.queuedRows, queuedTokens: this.queuedTokens, queuedRequests, inFlightBatches: this.#inFlight };
  }

  /**
   * Queues every row of `enc` and resolves with all of them in input order. Rejects at once with
   * QueueFullError (nothing queued) when the rows would push the queue over maxQueueTokens, with
   * RequestCancelledError when the signal fires first, InferenceClosedError after close().
   */
  submit(enc: RaggedEncoding, opts: SubmitOptions = {}): Promise<ScheduledOutput> {
    if (this.#closed) return Promise.reject(new InferenceClosedError());
    const signal = opts.signal;
    if (signal?.aborted) return Promise.reject(new RequestCancelledError(undefined, { cause: signal.reason }));
    const count = enc.count;
    const tokens = enc.offsets[count] - enc.offsets[0];
    const tokenizationMs = opts.tokenizationMs ?? 0;
    if (count === 0) {
      return Promise.resolve({ data: new Float32Array(0), cols: Math.max(this.#cols, 0), stats: { batches: 0, realTokens: 0, paddedTokens: 0 }, timings: { tokenizationMs, queueMs: 0, inferenceMs: 0 } });
    }
    if (this.#rows.tokens + tokens > this.#o.maxQueueTokens) {
      return Promise.reject(new QueueFullError(tokens, this.#rows.tokens, this.#o.maxQueueTokens));
    }
    let maxLen = 0;
    let minLen = Infinity;
    for (let i = 0; i < count; i++) {
      const len = enc.offsets[i + 1] - enc.offsets[i];
      if (len > maxLen) maxLen = len;
      if (len < minLen) minLen = len;
    }
    const pendingByLen = new Int32Array(maxLen + 1);
    for (let i = 0; i < count; i++) pendingByLen[enc.offsets[i + 1] - enc.offsets[i]]++;
    return new Promise<ScheduledOutput>((resolve, reject) => {
      const req: Request = {
        enc, count, tokens, pending: count, unfinished: count, pendingByLen, pendingCost: 0, servedAt: this.#dispatches, seq: this.#seq++, maxPendingLen: maxLen, minLen,
        fresh: true, eager: opts.onRows !== undefined && tokens >= EAGER_MIN_TOKENS,
        data: null, cols: -1, stats: { batches: 0, realTokens: 0, paddedTokens: 0 },
        tokenizationMs, enqueuedAt: performance.now(), firstDispatchAt: -1, lastDoneAt: -1, settled: false,
        onRows: opts.onRows, resolve, reject, detach: () => undefined,
      };
      if (signal) {
        const onAbort = (): void => this.#fail(req, new RequestCancelledError(
          `crossgate: the request was cancelled; ${req.pending} of its ${req.count} rows had not reached a worker and were dropped`, { cause: signal.reason }));
        signal.addEventListener('abort', onAbort, { once: true });
        req.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.#rows.add(req);
      this.#order.push(req);
      this.#pump();
    });
  }

  /** Rejects every request that still has rows waiting; batches in flight finish and their requests complete. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (let i = this.#head; i < this.#order.length; i++) {
      const req = this.#order[i];
      if (req.pending > 0) this.#fail(req, new InferenceClosedError());
    }
  }

  /** Settles `req` with an error and drops its waiting rows; its running rows finish unseen. */
  #fail(req: Request, e: Error): void {
    if (req.settled) return;
    req.settled = true;
    req.detach();
    if (req.pending > 0) this.#rows.remove(req);
    req.reject(e);
  }

  #oldest(): Request | null {
    while (this.#head < this.#order.length && this.#order[this.#head].pending === 0) this.#head++;
    // Drop finished requests from the list so their encodings and results can be collected.
    if (this.#head === this.#order.length) {
      this.#order = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
    return this.#head < this.#order.length ? this.#order[this.#head] : null;
  }

  /**
   * The next anchor: the request with the least pending cost (ties: the oldest), unless one has been
   * passed over for STARVATION_ROUNDS x capacity dispatches (then the longest-waiting such one). A
   * linear scan: the waiting requests are bounded by maxQueueTokens, and one scan costs far less than
   * the batch it picks. Returns whether other requests have waiting rows too.
   */
  #next(): { req: Request; contended: boolean } | null {
    if (!this.#oldest()) return null;
    const patience = STARVATION_ROUNDS * this.#o.capacity;
    let best: Request | null = null;
    let starving: Request | null = null;
    let waiting = 0;
    for (let i = this.#head; i < this.#order.length; i++) {
      const r = this.#order[i];
      if (r.pending === 0) continue;
      waiting++;
      if (this.#dispatches - r.servedAt >= patience && (!starving || r.servedAt < starving.servedAt)) starving = r;
      if (!best || r.pendingCost < best.pendingCost || (r.pendingCost === best.pendingCost && r.seq < best.seq)) best = r;
    }
    const contended = waiting > 1;
    // A small call that goes out whole costs the starving request one short batch of waiting, so it
    // still goes first, up to twice the patience: a flood of small calls slows a large one, never stops it.
    let req = starving ?? best;
    if (starving && best && best !== starving && this.#dispatches - starving.servedAt < 2 * patience && this.#goesWhole(best, contended)) req = best;
    return req ? { req, contended } : null;
  }

  /** Whether `req`'s rows go out together in one batch (see WHOLE_REQUEST_PADDING). */
  #goesWhole(req: Request, contended: boolean): boolean {
    if (!contended || !req.fresh || req.pending > this.#o.maxBatchRows) return false;
    while (req.pendingByLen[req.maxPendingLen] === 0) req.maxPendingLen--;
    const whole = req.pending * rowCost(req.maxPendingLen, this.#costLength);
    const padding = whole - req.pendingCost; // what padding its rows to one length adds
    return whole <= this.#o.maxBatchTokens && padding * WHOLE_REQUEST_PADDING <= this.#o.maxBatchTokens;
  }

  #pump(): void {
    while (this.#inFlight < this.#o.capacity && this.#rows.rows > 0) {
      const next = this.#next();
      if (!next) return;
      const { req, contended } = next;
      const share = Math.min(this.#o.maxBatchTokens, Math.max(MIN_SHARE_TOKENS, Math.ceil(this.#rows.cost / this.#o.capacity)));
      let batch: Entry[];
      if (req.fresh && req.eager) {
        const budget = Math.min(this.#o.maxBatchTokens, Math.max(MIN_SHARE_TOKENS, Math.ceil(req.tokens / (EAGER_SPLIT * this.#o.capacity))));
        batch = this.#rows.take(req.minLen, budget, this.#o.maxBatchRows, this.#o.batchOverheadTokens);
      } else {
        while (req.pendingByLen[req.maxPendingLen] === 0) req.maxPendingLen--;
        if (this.#goesWhole(req, contended)) {
          batch = this.#rows.takeRequest(req, share, this.#o.maxBatchRows, this.#o.batchOverheadTokens);
        } else {
          batch = this.#rows.take(req.maxPendingLen, share, this.#o.maxBatchRows, this.#o.batchOverheadTokens);
        }
      }
      this.#dispatches++;
      for (const e of batch) e.req.servedAt = this.#dispatches;
      this.#inFlight++;
      void this.#run(batch);
    }
  }

  async #run(batch: Entry[]): Promise<void> {
    let seqLen = 0;
    let realTokens = 0;
    for (const e of batch) {
      if (e.len > seqLen) seqLen = e.len;
      realTokens += e.len;
    }
    const started = performance.now();
    for (const e of batch) {
      if (e.req.fresh) {
        e.req.fresh = false;
        e.req.firstDispatchAt = started;
      }
    }
    let out: RunOutput | null = null;
    let failure: Error | null = null;
    try {
      out = await this.#runner.run(padEntries(batch, seqLen, this.#o.padId));
      if (this.#cols < 0) this.#cols = out.cols;
      if (out.cols !== this.#cols) {
        throw new InferenceBackendError(`crossgate: ${this.#o.label ?? 'the model'} returned ${out.cols} values per row in one batch and ${this.#cols} in another`);
      }
      if (out.data.length !== batch.length * out.cols) {
        throw new InferenceBackendError(`crossgate: the worker returned ${out.data.length} values for ${batch.length} rows x ${out.cols}`);
      }
    } catch (e) {
      failure = e instanceof Error ? e : new InferenceBackendError(String(e));
    }
    const done = performance.now();
    this.#inFlight--;
    try {
      if (failure || !out) {
        for (const e of batch) this.#fail(e.req, failure ?? new InferenceBackendError('crossgate: the worker returned no result'));
      } else {
        this.#deliver(batch, out, seqLen, done);
        if (this.onBatch) {
          try {
            this.onBatch({ rows: batch.length, realTokens, paddedTokens: batch.length * seqLen, inferenceMs: done - started });
          } catch (e) {
            if (!this.#warnedOnBatch) {
              this.#warnedOnBatch = true;
              process.emitWarning(`crossgate: Scheduler.onBatch threw (${(e as Error).message}); further throws are ignored too`);
            }
          }
        }
      }
    } finally {
      this.#pump();
    }
  }

  #deliver(batch: Entry[], out: RunOutput, seqLen: number, done: number): void {
    const cols = out.cols;
    // Group the batch by request, keeping batch order within each.
    const groups = new Map<Request, number[]>();
    batch.forEach((e, pos) => {
      let g = groups.get(e.req);
      if (!g) groups.set(e.req, (g = []));
      g.push(pos);
    });
    for (const [req, positions] of groups) {
      req.unfinished -= positions.length;
      if (req.settled) continue; // cancelled or failed while this batch ran: drop its rows
      const indices = new Int32Array(positions.length);
      const rows = new Float32Array(positions.length * cols);
      if (req.data === null) {
        req.cols = cols;
        req.data = new Float32Array(req.count * cols);
      }
      let real = 0;
      positions.forEach((pos, j) => {
        const e = batch[pos];
        indices[j] = e.row;
        real += e.len;
        const src = out.data.subarray(pos * cols, (pos + 1) * cols);
        rows.set(src, j * cols);
        req.data!.set(src, e.row * cols);
      });
      req.stats.batches++;
      req.stats.realTokens += real;
      req.stats.paddedTokens += positions.length * seqLen;
      req.lastDoneAt = done;
      if (req.onRows) {
        try {
          req.onRows(indices, rows, cols);
        } catch (e) {
          this.#fail(req, e instanceof Error ? e : new Error(String(e)));
          continue;
        }
        if (req.settled) continue; // the callback aborted it
      }
      if (req.unfinished === 0) {
        req.settled = true;
        req.detach();
        req.resolve({
          data: req.data, cols: req.cols, stats: req.stats,
          timings: { tokenizationMs: req.tokenizationMs, queueMs: req.firstDispatchAt - req.enqueuedAt, inferenceMs: req.lastDoneAt - req.firstDispatchAt },
        });
      }
    }
  }
}
