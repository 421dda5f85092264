// Dynamic int8 quantization of an ONNX model, written the way onnxruntime's quantize_dynamic writes it:
// int8 weights + DynamicQuantizeLinear(uint8) -> MatMulInteger -> Cast -> Mul(scales); Gather tables stay int8.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { DataType, decodeModel, encodeModel, makeNode, makeTensor, onnx, tensorDims, tensorFloats, type ModelProto, type NodeProto, type TensorProto } from './graph.js';

export interface QuantizeOptions {
  /** One scale per output column of each MatMul weight instead of one per tensor (more accurate, same size). */
  perChannel?: boolean;
  /** Also store Gather tables (embeddings) as int8 with a DequantizeLinear after the lookup. Default true. */
  quantizeGather?: boolean;
  /** Weights with fewer elements than this stay float (tiny tensors gain nothing). Default 16. */
  minElements?: number;
}

export interface QuantizeReport {
  matmuls: number;
  gathers: number;
  /** Float bytes of the weights replaced, and the int8 bytes that replaced them. */
  floatBytes: number;
  int8Bytes: number;
}

interface QuantizedWeight {
  data: string;
  scale: string;
  zeroPoint: string;
}

/**
 * Symmetric int8: q = round(w / s), s = max|w| / 127, zero point 0. 127 rather than 128 keeps the range
 * symmetric, which is what onnxruntime does for QInt8 weights.
 */
export function quantizeSymmetric(w: Float32Array, rows: number, cols: number, perColumn: boolean): { q: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(perColumn ? cols : 1);
  const maxAbs = new Float64Array(scales.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(w[base + c]);
      const k = perColumn ? c : 0;
      if (a > maxAbs[k]) maxAbs[k] = a;
    }
  }
  for (let k = 0; k < scales.length; k++) scales[k] = maxAbs[k] > 0 ? maxAbs[k] / 127 : 1;
  const q = new Int8Array(w.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = Math.round(w[base + c] / scales[perColumn ? c : 0]);
      q[base + c] = v > 127 ? 127 : v < -127 ? -127 : v;
    }
  }
  return { q, scales };
}

/** Returns a new model (the input is not modified; unchanged tensors are shared with it). */
export function quantizeDynamic(model: ModelProto, opts: QuantizeOptions = {}): { model: ModelProto; report: QuantizeReport } {
  const graph = model.graph;
  if (!graph) throw new Error('quantize: the model has no graph');
  const minElements = opts.minElements ?? 16;
  const quantizeGather = opts.quantizeGather ?? true;
  const report: QuantizeReport = { matmuls: 0, gathers: 0, floatBytes: 0, int8Bytes: 0 };

  const inits = new Map<string, TensorProto>();
  for (const t of graph.initializer ?? []) inits.set(t.name ?? '', t);
  const isFloatMatrix = (name: string | undefined | null, rank: number): TensorProto | undefined => {
    const t = name ? inits.get(name) : undefined;
    if (!t || t.dataType !== DataType.FLOAT) return undefined;
    const dims = tensorDims(t);
    if (dims.length !== rank || dims.reduce((a, b) => a * b, 1) < minElements) return undefined;
    return t;
  };

  const newInits: TensorProto[] = [];
  const weightCache = new Map<string, QuantizedWeight>();
  const quantizeWeight = (t: TensorProto, perColumn: boolean): QuantizedWeight => {
    const key = `${t.name}|${perColumn}`;
    const hit = weightCache.get(key);
    if (hit) return hit;
    const dims = tensorDims(t);
    const { q, scales } = quantizeSymmetric(tensorFloats(t), dims[0], dims[1], perColumn);
    const base = t.name ?? '';
    const qw: QuantizedWeight = { data: `${base}_quantized`, scale: `${base}_scale`, zeroPoint: `${base}_zero_point` };
    const scaleDims = perColumn ? [dims[1]] : [];
    newInits.push(makeTensor(qw.data, dims, q), makeTensor(qw.scale, scaleDims, scales), makeTensor(qw.zeroPoint, scaleDims, new Int8Array(scales.length)));
    report.floatBytes += q.length * 4;
    report.int8Bytes += q.length + scales.length * 5;
    weightCache.set(key, qw);
    return qw;
  };

  const nodes: NodeProto[] = [];
  const activationCache = new Map<string, { q: string; scale: string; zeroPoint: string }>();
  const usedFloat = new Set<string>();

  for (const node of graph.node ?? []) {
    const inputs = node.input ?? [];
    const outputs = node.output ?? [];
    const name = node.name || outputs[0] || 'node';

    const w = node.opType === 'MatMul' && !inits.has(inputs[0]) ? isFloatMatrix(inputs[1], 2) : undefined;
    if (w) {
      const qw = quantizeWeight(w, opts.perChannel ?? false);
      let act = activationCache.get(inputs[0]);
      if (!act) {
        act = { q: `${inputs[0]}_quantized`, scale: `${inputs[0]}_scale`, zeroPoint: `${inputs[0]}_zero_point` };
        // One DynamicQuantizeLinear per activation, shared by every MatMul that reads it (Q, K and V).
        nodes.push(makeNode('DynamicQuantizeLinear', [inputs[0]], [act.q, act.scale, act.zeroPoint], `${inputs[0]}_QuantizeLinear`));
        activationCache.set(inputs[0], act);
      }
      const out = outputs[0];
      nodes.push(
        makeNode('MatMulInteger', [act.q, qw.data, act.zeroPoint, qw.zeroPoint], [`${out}_quantized`], `${name}_quant`),
        makeNode('Cast', [`${out}_quantized`], [`${out}_quantized_cast`], `${name}_quant_output_cast`, { to: DataType.FLOAT }),
        makeNode('Mul', [act.scale, qw.scale], [`${name}_quant_scales_mul:0`], `${name}_quant_scales_mul`),
        makeNode('Mul', [`${out}_quantized_cast`, `${name}_quant_scales_mul:0`], [out], `${name}_quant_output_scale_mul`),
      );
      report.matmuls++;
      continue;
    }

    const table = quantizeGather && node.opType === 'Gather' ? isFloatMatrix(inputs[0], 2) : undefined;
    const axis = (node.attribute ?? []).find((a) => a.name === 'axis');
    if (table && (!axis || Number(axis.i ?? 0) === 0)) {
      const qw = quantizeWeight(table, false);
      const out = outputs[0];
      nodes.push(
        makeNode('Gather', [qw.data, inputs[1]], [`${out}_quantized`], name, { axis: 0 }),
        makeNode('DequantizeLinear', [`${out}_quantized`, qw.scale, qw.zeroPoint], [out], `${name}_DequantizeLinear`),
      );
      report.gathers++;
      continue;
    }

    for (const i of inputs) if (inits.has(i)) usedFloat.add(i);
    nodes.push(node);
  }

  // Drop a float weight only when every reader now uses its int8 copy; anything else (graph outputs,
  // subgraph captures) keeps its initializer.
  const replaced = new Set([...weightCache.keys()].map((k) => k.slice(0, k.lastIndexOf('|'))));
  const keep = (t: TensorProto): boolean => !replaced.has(t.name ?? '') || usedFloat.has(t.name ?? '');
  const initializer = [...(graph.initializer ?? []).filter(keep), ...newInits];
  return {
    model: { ...model, graph: { ...graph, node: nodes, initializer } },
    report,
  };
}

/** The lowest ai.onnx opset with DynamicQuantizeLinear, which the quantized graph needs. */
const MIN_OPSET = 11;

/**
 * Reads tensors an exporter stored outside the .onnx file (location/offset/length entries, as torch and
 * Optimum write for large models) into raw_data, so the quantizer sees every weight.
 */
export function inlineExternalData(model: ModelProto, baseDir: string): number {
  let count = 0;
  const files = new Map<string, Buffer>();
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const entry = (k: string): string | undefined => (t.externalData ?? []).find((e) => e.key === k)?.value ?? undefined;
    const location = entry('location');
    if (!location) throw new Error(`tensor '${t.name}' is marked external but names no location`);
    const path = resolvePath(baseDir, location);
    let data = files.get(path);
    if (!data) {
      if (!existsSync(path)) throw new Error(`tensor '${t.name}' keeps its data in ${location}, which is not next to the model (${path}); copy it there`);
      data = readFileSync(path);
      files.set(path, data);
    }
    const offset = Number(entry('offset') ?? 0);
    const length = entry('length') !== undefined ? Number(entry('length')) : data.length - offset;
    if (offset < 0 || offset + length > data.length) throw new Error(`tensor '${t.name}': bytes ${offset}..${offset + length} lie outside ${location} (${data.length} bytes)`);
    t.rawData = new Uint8Array(data.buffer, data.byteOffset + offset, length);
    t.externalData = [];
    t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    count++;
  }
  return count;
}

export interface QuantizeFileResult {
  report: QuantizeReport;
  bytes: { input: number; output: number };
  /** Initializers read from external data files. */
  externalTensors: number;
}

/**
 * Quantizes an fp32 ONNX file (the generator's, or any BERT-family export such as Optimum's) into
 * `outPath`, written via a temp file and a rename so a reader never sees half a model and a symlink at
 * `outPath` (a hub-cache snapshot entry) is replaced rather than written through.
 */
export function quantizeOnnxFile(inPath: string, outPath: string, opts: QuantizeOptions = {}): QuantizeFileResult {
  const input = readFileSync(inPath);
  const model = decodeModel(input);
  const opset = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const version = opset ? Number(opset.version ?? 0) : 0;
  if (version < MIN_OPSET) {
    throw new Error(`${inPath} uses ai.onnx opset ${version}; dynamic quantization needs opset ${MIN_OPSET} or later (DynamicQuantizeLinear); re-export it with \`optimum-cli export onnx --opset 14\``);
  }
  if ((model.graph?.node ?? []).some((n) => n.opType === 'MatMulInteger' || n.opType === 'DynamicQuantizeLinear')) {
    throw new Error(`${inPath} is already quantized (it has MatMulInteger/DynamicQuantizeLinear nodes); quantize the fp32 model instead`);
  }
  const externalTensors = inlineExternalData(model, dirname(inPath));
  const { model: q, report } = quantizeDynamic(model, opts);
  if (report.matmuls === 0) {
    throw new Error(`${inPath} has no MatMul with a constant float weight to quantize; fused graphs (ORT transformer-optimised Attention/FastGelu) are not supported: quantize the plain export (onnx/model.onnx)`);
  }
  const bytes = encodeModel(q);
  mkdirSync(dirname(outPath), { recursive: true });
  const tmp = `${outPath}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, outPath);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return { report, bytes: { input: input.length, output: bytes.length }, externalTensors };
}
