// Trial 4: int8 against fp32. Headline: CrossEncoder.score throughput with quantized=true vs false on
// workload (a), and top-10 agreement of the int8 rankings with fp32 on the same pairs. Then the variants
// tried on raw ORT sessions (per-channel weights, session options), fp32/int8 per fixed shape (b), and
// ORT's per-operator profile of both models, which says where the time left after int8 goes.
import { mkdirSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { CrossEncoder } from '../src/infer/cross-encoder.js';
import { Tokenizer } from '../src/tokenize/index.js';
import { padBatch } from '../src/tokenize/pad.js';
import { decodeModel, encodeModel } from '../src/models/onnx/graph.js';
import { quantizeDynamic } from '../src/models/onnx/quantize.js';
import { fuseBert } from './lib/fuse.js';
import { crossModel, CROSS_PRESET } from './lib/models.js';
import { opProfile, plannedBatches, rawSession, runAll, feeds } from './lib/ort-raw.js';
import { interleave, median, ratios, timeMs, type Contender } from './lib/stats.js';
import { RawPool } from './lib/ort-raw-pool.js';
import { defaultThreads, defaultWorkers } from '../src/infer/options.js';
import { figure, ratio, standalone, type Trial } from './lib/trial.js';
import { fixedShapePairs, FIXED_BATCHES, FIXED_SEQ_LENS, ragWorkload, rng } from './lib/workload.js';

/** Per query: |top-k(a) ∩ top-k(b)| / k (ties broken by index). */
export function topKPerQuery(a: Float32Array[], b: Float32Array[], k = 10): number[] {
  const top = (x: Float32Array): Set<number> => new Set(Array.from(x.keys()).sort((i, j) => x[j] - x[i] || i - j).slice(0, k));
  return a.map((aq, q) => {
    const ta = top(aq);
    let hit = 0;
    for (const i of top(b[q])) if (ta.has(i)) hit++;
    return hit / Math.min(k, aq.length);
  });
}

/** Mean over queries of |top-k(a) ∩ top-k(b)| / k. */
export function topKAgreement(a: Float32Array[], b: Float32Array[], k = 10): number {
  const per = topKPerQuery(a, b, k);
  return per.reduce((s, x) => s + x, 0) / per.length;
}

/** Spearman rank correlation of two score vectors (no ties expected in float scores). */
export function spearman(a: Float32Array, b: Float32Array): number {
  const ranks = (x: Float32Array): Float64Array => {
    const r = new Float64Array(x.length);
    Array.from(x.keys()).sort((i, j) => x[j] - x[i] || i - j).forEach((v, k) => { r[v] = k; });
    return r;
  };
  const ra = ranks(a);
  const rb = ranks(b);
  const n = a.length;
  let d2 = 0;
  for (let i = 0; i < n; i++) d2 += (ra[i] - rb[i]) ** 2;
  return n < 2 ? 1 : 1 - (6 * d2) / (n * (n * n - 1));
}

/** Percentile bootstrap of the mean (seeded): the 95% interval a resample of the queries would give. */
export function bootstrapMean(xs: number[], resamples = 4000, seed = 4040): { mean: number; lo: number; hi: number } {
  const next = rng(seed);
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < xs.length; i++) sum += xs[Math.floor(next() * xs.length)];
    means[r] = sum / xs.length;
  }
  means.sort();
  return { mean, lo: means[Math.floor(0.025 * resamples)], hi: means[Math.ceil(0.975 * resamples) - 1] };
}

interface Variant { name: string; path: string; config?: Record<string, string>; note: string; /** Several single-threaded sessions in worker threads instead of one session. */ pool?: number }

export const trial: Trial = {
  id: '04',
  file: '04.rerank.int8.ts',
  title: 'int8 vs fp32 (throughput and top-10 agreement; variants, shapes, profile)',
  async run({ quick, machine, log, ep }) {
    const threads = machine.cores;
    const model = await crossModel();
    const rounds = quick ? 3 : 5;
    const nq = quick ? 1 : 6;
    // Agreement is a mean over queries of a 0.1-step score, so it needs many queries to pin down: with 6
    // (the first full run) one query's swap moves it by 0.017. Scored untimed beyond the timed ones.
    const agreeQueries = quick ? 10 : 50;
    const work = ragWorkload(nq, { seed: 404 });
    const pairs = nq * 100;
    const notes: string[] = [];
    const tables: NonNullable<Awaited<ReturnType<Trial['run']>>['tables']> = [];

    // ---- Headline: the library at its defaults (W workers x T threads), int8 vs fp32, same pairs. The
    // full run adds 1 worker x all cores, the layout whose intra-op spinning the profile below looks at.
    const workers = defaultWorkers(ep, machine.cores);
    const wthreads = defaultThreads(workers, machine.cores);
    const layout = `${workers}x${wthreads}`;
    const fp32 = await CrossEncoder.load(model.dir, { workers, threads: wthreads, executionProvider: ep });
    const int8 = await CrossEncoder.load(model.dir, { workers, threads: wthreads, executionProvider: ep, quantized: true });
    const oneSession = !quick && ep === 'cpu' && workers > 1;
    const fp32s = oneSession ? await CrossEncoder.load(model.dir, { workers: 1, threads }) : null;
    const int8s = oneSession ? await CrossEncoder.load(model.dir, { workers: 1, threads, quantized: true }) : null;
    const scores: Record<string, Float32Array[]> = { fp32: [], int8: [] };
    const cpuRate: Record<string, number[]> = {};
    let res: Record<string, number[]>;
    try {
      const run = (enc: CrossEncoder, key: string) => async (): Promise<number> => {
        const got: Float32Array[] = [];
        const cpu0 = process.cpuUsage();
        const ms = await timeMs(async () => { for (const q of work.queries) got.push((await enc.score(q.query, q.passages)).logits); });
        const cpu = process.cpuUsage(cpu0);
        // CPU seconds of this process (main thread + ORT workers): what the pairs cost, whatever else runs.
        (cpuRate[key] ??= []).push(pairs / ((cpu.user + cpu.system) / 1e6));
        scores[key] = got;
        return pairs / (ms / 1000);
      };
      for (const enc of [fp32, int8, fp32s, int8s]) await enc?.score(work.queries[0].query, work.queries[0].passages.slice(0, 16));
      const contenders: Contender[] = [{ name: 'fp32', run: run(fp32, 'fp32') }, { name: 'int8', run: run(int8, 'int8') }];
      if (fp32s && int8s) contenders.push({ name: 'fp32s', run: run(fp32s, 'fp32s') }, { name: 'int8s', run: run(int8s, 'int8s') });
      res = await interleave(rounds, contenders, (r, got) => log(`  round ${r + 1}: ${Object.entries(got).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')} pairs/s`));
      // Agreement needs more than the one query --quick times: score a few more, untimed.
      for (const q of ragWorkload(agreeQueries, { seed: 404 }).queries.slice(nq)) {
        scores.fp32.push((await fp32.score(q.query, q.passages)).logits);
        scores.int8.push((await int8.score(q.query, q.passages)).logits);
      }
    } finally {
      await Promise.all([fp32.close(), int8.close(), fp32s?.close(), int8s?.close()]);
    }
    const perQuery = topKPerQuery(scores.fp32, scores.int8, 10);
    const agreement = bootstrapMean(perQuery);
    const rho = scores.fp32.reduce((sum, f, q) => sum + spearman(f, scores.int8[q]), 0) / scores.fp32.length;
    notes.push(`top-10 agreement per query (${perQuery.length} queries of workload (a), 100 candidates each): mean ${agreement.mean.toFixed(3)}, 95% bootstrap interval ${agreement.lo.toFixed(3)}..${agreement.hi.toFixed(3)}; ` +
      `${perQuery.filter((x) => x === 1).length} queries agree fully, the worst ${Math.min(...perQuery).toFixed(1)}. The clone's random weights give scores whose neighbours around rank 10 sit a few hundredths of a logit apart, ` +
      `so int8's rounding swaps them; the Spearman correlation of the whole 100-candidate order is ${rho.toFixed(4)} (mean over the queries).`);

    // ---- Variants on raw sessions over the same micro-batches the library would run.
    const tok = Tokenizer.fromFile(join(model.dir, 'tokenizer.json'));
    let rawNoSpin: number[] = [];
    let rawFused: number[] = [];
    let rawSpin: number[] = [];
    let rawPool: number[] = [];
    // --quick runs the variants over the first 50 candidates of the query (same length distribution).
    const q0 = { query: work.queries[0].query, passages: work.queries[0].passages.slice(0, quick ? 50 : 100) };
    const enc = tok.encodeRaggedSync(new Array<string>(q0.passages.length).fill(q0.query), q0.passages);
    const batches = plannedBatches(enc, tok.padId, ep);
    const dir = join(tmpdir(), `crossgate-bench-variants-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      // The model rewrites (per-channel, fp32 embeddings, fused ops) are full-run only: --quick keeps to 5 minutes.
      const perChannel = join(dir, 'model_quantized_per_channel.onnx');
      const noGather = join(dir, 'model_quantized_no_gather.onnx');
      const fusedFp32 = join(dir, 'model_fused.onnx');
      const fusedInt8 = join(dir, 'model_quantized_fused.onnx');
      if (!quick) {
        const fp32Model = decodeModel(readFileSync(model.fp32));
        writeFileSync(perChannel, encodeModel(quantizeDynamic(fp32Model, { perChannel: true }).model));
        writeFileSync(noGather, encodeModel(quantizeDynamic(fp32Model, { perChannel: false, quantizeGather: false }).model));
        const fuseReport = fuseBert(fp32Model, 12);
        writeFileSync(fusedFp32, encodeModel(fuseReport.model));
        writeFileSync(fusedInt8, encodeModel(fuseBert(decodeModel(readFileSync(model.int8)), 12).model));
        notes.push(`fused variants: ${fuseReport.report.attention} attention blocks -> com.microsoft MultiHeadAttention, ${fuseReport.report.skipLayerNorm} residual Add+LayerNormalization -> SkipLayerNormalization (benchmarks/lib/fuse.ts; ORT's level-2 fusions find neither in the generated graph)`);
      }
      const noSpin = { 'session.intra_op.allow_spinning': '0' };
      const variants: Variant[] = [
        { name: 'fp32', path: model.fp32, note: 'model.onnx, graph optimisation all (as the library runs it)' },
        { name: 'fp32 no-spin', path: model.fp32, config: noSpin, note: "session.intra_op.allow_spinning='0'" },
        ...(quick ? [] : [{ name: 'fp32 fused no-spin', path: fusedFp32, config: noSpin, note: 'MultiHeadAttention + SkipLayerNormalization' }]),
        { name: 'int8 dynamic per-tensor (shipped)', path: model.int8, note: 'u8 activations x s8 weights, DynamicQuantizeMatMul/MatMulIntegerToFloat (AMX tdpbusd)' },
        ...(quick ? [] : [{ name: 'int8 dynamic per-channel', path: perChannel, note: 'one weight scale per output column' }]),
        { name: 'int8 no-spin', path: model.int8, config: noSpin, note: "as shipped, allow_spinning='0'" },
        ...(quick ? [] : [
          { name: 'int8 fused', path: fusedInt8, note: 'shipped int8 + MultiHeadAttention + SkipLayerNormalization' },
          { name: 'int8 fused no-spin', path: fusedInt8, config: noSpin, note: 'both levers' },
          { name: 'int8 fp32 embeddings', path: noGather, note: 'Gather tables left fp32' },
          { name: 'int8 gelu-approx', path: model.int8, config: { 'optimization.enable_gelu_approximation': '1' }, note: 'tanh GELU (changes results slightly)' },
        ]),
        ...(ep === 'cpu' && threads > 1 ? [
          { name: `fp32 ${threads}x1 sessions`, path: model.fp32, pool: threads, note: `${threads} single-thread sessions in worker threads, batches handed out largest first (the library's default layout)` },
          { name: `int8 ${threads}x1 sessions`, path: model.int8, pool: threads, note: 'the same, int8' },
          { name: `int8 ${threads}x1 no-spin`, path: model.int8, pool: threads, config: noSpin, note: "the same with allow_spinning='0' (a 1-thread session has no intra-op pool to spin)" },
        ] : []),
      ];
      const sessions: (ort.InferenceSession | null)[] = [];
      const pools: (RawPool | null)[] = [];
      for (const v of variants) {
        if (v.pool) {
          const pool = await RawPool.create(v.path, { sessions: v.pool, threads: 1, ep, config: v.config });
          await pool.load(batches);
          pools.push(pool);
          sessions.push(null);
        } else {
          sessions.push(await rawSession(v.path, { threads, ep, config: v.config }));
          pools.push(null);
        }
      }
      try {
        // Warm-up over every batch, keeping each single session's scores to check its ranking against fp32.
        const flat = (xs: Float32Array[]): Float32Array => Float32Array.from(xs.flatMap((x) => Array.from(x)));
        const got: (Float32Array | null)[] = [];
        for (let i = 0; i < variants.length; i++) {
          if (sessions[i]) got.push(flat(await runAll(sessions[i]!, batches)));
          else { await pools[i]!.runAll(); got.push(null); }
        }
        const rawRounds = quick ? 2 : 4;
        const raw = await interleave(rawRounds, variants.map((v, i) => ({
          name: v.name,
          run: async (): Promise<number> => q0.passages.length / ((await timeMs(() => (sessions[i] ? runAll(sessions[i]!, batches) : pools[i]!.runAll()))) / 1000),
        })));
        const base = raw.fp32;
        tables.push({
          title: `variants on raw ORT sessions (${q0.passages.length} pairs of workload (a), ${batches.length} length-sorted micro-batches, 1 session x ${threads} threads unless named, median of ${rawRounds} interleaved rounds)`,
          columns: ['variant', 'pairs/s', `x fp32 1x${threads} (same round)`, 'top-10 vs fp32', 'what it is'],
          rows: variants.map((v, i) => [v.name, median(raw[v.name]), median(ratios(raw[v.name], base)), got[i] ? topKAgreement([got[0]!], [got[i]!], 10) : '-', v.note]),
        });
        rawNoSpin = ratios(raw['int8 no-spin'], raw['fp32 no-spin']);
        rawSpin = ratios(raw['int8 dynamic per-tensor (shipped)'], raw.fp32);
        if (!quick) rawFused = ratios(raw['int8 fused no-spin'], raw['fp32 no-spin']);
        if (raw[`int8 ${threads}x1 sessions`]) rawPool = ratios(raw[`int8 ${threads}x1 sessions`], raw[`fp32 ${threads}x1 sessions`]);
      } finally {
        await Promise.all([...sessions.map((s) => s?.release()), ...pools.map((p) => p?.close())]);
      }

      // ---- Fixed shapes (b): fp32 vs int8 tokens/ms per (seqLen, batch); full run only (--quick keeps to 5 minutes).
      if (!quick) {
        const sf = await rawSession(model.fp32, { threads, ep });
        const si = await rawSession(model.int8, { threads, ep });
        try {
          const rows: (string | number)[][] = [];
          const shapeRounds = 3;
          for (const L of FIXED_SEQ_LENS) {
            for (const B of FIXED_BATCHES) {
              const p = fixedShapePairs(L, B);
              const e = tok.encodeRaggedSync(new Array<string>(B).fill(p.query), p.passages, { maxLength: L });
              const rowsIdx = Int32Array.from({ length: B }, (_, i) => i);
              const b = padBatch(e, rowsIdx, tok.padId);
              if (b.seqLen !== L) throw new Error(`fixed shape ${L}x${B}: pairs encode to ${b.seqLen} tokens; the workload generator is off`);
              const f = feeds(b);
              await sf.run(f); await si.run(f);
              const reps = Math.max(1, Math.round(2048 / (L * B)));
              const r = await interleave(shapeRounds, [
                { name: 'fp32', run: async () => (L * B * reps) / (await timeMs(async () => { for (let i = 0; i < reps; i++) await sf.run(f); })) },
                { name: 'int8', run: async () => (L * B * reps) / (await timeMs(async () => { for (let i = 0; i < reps; i++) await si.run(f); })) },
              ]);
              rows.push([`${L} x ${B}`, median(r.fp32), median(r.int8), median(ratios(r.int8, r.fp32))]);
            }
          }
          tables.push({ title: `fixed shapes (b): tokens/ms, ${threads} threads`, columns: ['seqLen x batch', 'fp32', 'int8', 'int8 / fp32'], rows });
        } finally {
          await Promise.all([sf.release(), si.release()]);
        }
      }

      // ---- Where the time goes: ORT's profile per operator type, both models, the same batches.
      const profiles: Record<string, { op: string; ms: number; share: number }[]> = {};
      for (const [name, path] of [['fp32', model.fp32], ['int8', model.int8]] as const) {
        const prefix = join(dir, `profile_${name}`);
        const s = await rawSession(path, { threads, ep, profilePrefix: prefix });
        await runAll(s, batches);
        await runAll(s, batches);
        // Per-run kernel time over the warm pass, then scaled from per-run to the whole pass.
        profiles[name] = opProfile(s, prefix, batches.length).map((p) => ({ ...p, ms: p.ms * batches.length }));
        await s.release();
      }
      const ops = [...new Set([...profiles.fp32.slice(0, 10), ...profiles.int8.slice(0, 10)].map((p) => p.op))];
      const cell = (name: string, op: string): string => {
        const p = profiles[name].find((x) => x.op === op);
        return p ? `${p.ms.toFixed(0)} ms (${(p.share * 100).toFixed(0)}%)` : '-';
      };
      tables.push({ title: `ORT profile: kernel time per operator type over the ${q0.passages.length} pairs (warm pass; the cold one is skipped)`, columns: ['operator', 'fp32', 'int8'], rows: ops.map((op) => [op, cell('fp32', op), cell('int8', op)]) });
      const sum = (name: string, pred: (op: string) => boolean): number => profiles[name].filter((p) => pred(p.op)).reduce((a, p) => a + p.ms, 0);
      const denseInt8 = (op: string): boolean => ['DynamicQuantizeMatMul', 'MatMulIntegerToFloat', 'DynamicQuantizeLinear', 'MatMulInteger'].includes(op);
      const totalF = sum('fp32', () => true);
      const totalI = sum('int8', () => true);
      notes.push(`profile: int8 spends ${sum('int8', denseInt8).toFixed(0)} of ${totalI.toFixed(0)} ms in the quantized dense layers; ` +
        `the other ${(totalI - sum('int8', denseInt8)).toFixed(0)} ms (attention matmuls, Softmax, Add, Gelu, LayerNormalization, Transpose) stay fp32; ` +
        `fp32 total ${totalF.toFixed(0)} ms, so kernel-time ratio ${(totalF / totalI).toFixed(2)}x.`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const figures = [
      figure(`crossgate int8 (${workers} workers x ${wthreads} thread, the default)`, 'pairs/s', res.int8),
      figure(`crossgate fp32 (${workers} workers x ${wthreads} thread, the default)`, 'pairs/s', res.fp32),
      figure(`crossgate int8 (${layout}) per CPU-second`, 'pairs/CPU-s', cpuRate.int8),
      figure(`crossgate fp32 (${layout}) per CPU-second`, 'pairs/CPU-s', cpuRate.fp32),
    ];
    const out = [
      ratio(`int8 / fp32 throughput (library default ${layout})`, ratios(res.int8, res.fp32), { name: 'int8 >= 2.5x fp32', op: '>=', value: 2.5 }),
      // The median cell is the mean over queries; min..max is its 95% bootstrap interval.
      ratio(`top-10 agreement int8 vs fp32 (mean of ${perQuery.length} queries x 100; min..max = 95% bootstrap interval)`, [agreement.lo, agreement.mean, agreement.hi], { name: 'agreement >= 0.9', op: '>=', value: 0.9 }),
      ratio(`int8 / fp32 pairs per CPU-second (library default ${layout}; barely moved by other processes' load)`, ratios(cpuRate.int8, cpuRate.fp32)),
    ];
    if (res.fp32s) {
      figures.push(figure(`crossgate int8 (1 worker x ${threads} threads)`, 'pairs/s', res.int8s), figure(`crossgate fp32 (1 worker x ${threads} threads)`, 'pairs/s', res.fp32s));
      out.push(ratio(`int8 / fp32 throughput (1 worker x ${threads} threads)`, ratios(res.int8s, res.fp32s)));
      out.push(ratio(`fp32 ${layout} / fp32 1x${threads}`, ratios(res.fp32, res.fp32s)));
    }
    out.push(ratio(`raw ORT 1x${threads}: int8 / fp32`, rawSpin));
    out.push(ratio(`raw ORT 1x${threads}, spinning off both: int8 / fp32`, rawNoSpin));
    if (rawPool.length) out.push(ratio(`raw ORT ${threads}x1 sessions: int8 / fp32`, rawPool));
    if (rawFused.length) out.push(ratio('raw ORT, spinning off both: int8 fused / fp32 (unfused)', rawFused));
    return {
      peer: 'crossgate fp32 (same CrossEncoder, model.onnx)',
      settings: { model: CROSS_PRESET, ep, 'workers (headline)': workers, 'threads per worker (headline)': wthreads, 'raw session threads': threads, workload: `(a) ${nq} queries x 100 passages per round`, rounds },
      figures,
      ratios: out,
      notes,
      tables,
    };
  },
};

await standalone(trial, import.meta.url);
