// What every trial prints first: the CPU (model and the flags that decide which kernels run), cores,
// load average, memory, Node and ONNX Runtime versions, so a number is never read without its machine.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, totalmem, freemem, release } from 'node:os';

/** The /proc/cpuinfo flags that pick kernels in ORT's MLAS, in our index and in the peers. */
export const RELEVANT_FLAGS = [
  'sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx_vnni',
  'avx512_bf16', 'avx512_fp16', 'amx_tile', 'amx_int8', 'amx_bf16', 'hypervisor',
] as const;

export interface MachineInfo {
  cpuModel: string;
  /** Cores this process may use (os.availableParallelism). */
  cores: number;
  /** RELEVANT_FLAGS present on this CPU, in that order. */
  flags: string[];
  /** RELEVANT_FLAGS absent. */
  missingFlags: string[];
  node: string;
  onnxruntime: string;
  kernel: string;
  memGiB: number;
  freeMemGiB: number;
  /** 1, 5 and 15 minute load averages when the info was taken. */
  loadavg: number[];
}

function readCpuinfo(): { model: string; flags: Set<string> } {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? 'unknown';
    const flags = new Set((/^flags\s*:\s*(.+)$/m.exec(text)?.[1] ?? '').trim().split(/\s+/));
    return { model, flags };
  } catch {
    return { model: 'unknown (no /proc/cpuinfo)', flags: new Set() };
  }
}

export function packageVersion(name: string): string {
  try {
    const req = createRequire(import.meta.url);
    const pkg = req(`${name}/package.json`) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    // Some packages do not export package.json; read it from node_modules directly.
    try {
      const req = createRequire(import.meta.url);
      const main = req.resolve(name);
      const at = main.lastIndexOf(`node_modules/${name}/`);
      const dir = main.slice(0, at + `node_modules/${name}/`.length);
      return (JSON.parse(readFileSync(dir + 'package.json', 'utf8')) as { version?: string }).version ?? 'unknown';
    } catch {
      return 'not installed';
    }
  }
}

export function machineInfo(): MachineInfo {
  const { model, flags } = readCpuinfo();
  return {
    cpuModel: model,
    cores: availableParallelism(),
    flags: RELEVANT_FLAGS.filter((f) => flags.has(f)),
    missingFlags: RELEVANT_FLAGS.filter((f) => !flags.has(f)),
    node: process.version,
    onnxruntime: packageVersion('onnxruntime-node'),
    kernel: release(),
    memGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    freeMemGiB: Math.round(freemem() / 2 ** 30 * 10) / 10,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function loadNow(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

export function describeMachine(m: MachineInfo): string {
  return [
    `machine: ${m.cpuModel}, ${m.cores} cores, ${m.memGiB} GiB (${m.freeMemGiB} free), linux ${m.kernel}`,
    `cpu flags: ${m.flags.join(' ')}${m.missingFlags.length ? ` (absent: ${m.missingFlags.join(' ')})` : ''}`,
    `node ${m.node}, onnxruntime-node ${m.onnxruntime}, load average ${m.loadavg.join(' / ')} (1/5/15 min)`,
  ].join('\n');
}
