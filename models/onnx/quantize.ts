// Dynamic int8 quantization of an ONNX model, written the way onnxruntime's quantize_dynamic writes it:
// int8 weights + DynamicQuantizeLinear(uint8) -> MatMulInteger -> Cast -> Mul(scales); Gather tables stay int8.
import { DataType, makeNode, makeTensor, tensorDims, tensorFloats, type ModelProto, type NodeProto, type TensorProto } from './graph.js';

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
