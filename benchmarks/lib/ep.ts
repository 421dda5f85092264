// Which execution provider the model trials run on: `--ep cpu|cuda` on the command line, else the
// CROSSGATE_BENCH_EP environment variable, else 'cpu'. benchmarks/gpu.sh sets it for trials 1, 2 and 4.
export type BenchEp = 'cpu' | 'cuda';

export function benchEp(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): BenchEp {
  const at = argv.indexOf('--ep');
  const raw = at >= 0 ? argv[at + 1] : env.CROSSGATE_BENCH_EP;
  if (raw === undefined || raw === '') return 'cpu';
  if (raw !== 'cpu' && raw !== 'cuda') {
    throw new RangeError(`execution provider '${raw}' (${at >= 0 ? '--ep' : 'CROSSGATE_BENCH_EP'}) is not supported; pass cpu or cuda`);
  }
  return raw;
}

/** onnxruntime-node's executionProviders list for a raw session: CUDA first, CPU for the ops it lacks. */
export function ortProviders(ep: BenchEp): string[] {
  return ep === 'cuda' ? ['cuda', 'cpu'] : ['cpu'];
}
