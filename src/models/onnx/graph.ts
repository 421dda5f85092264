// A small ONNX graph builder over onnx-proto's generated classes: typed initializers stored as raw_data,
// nodes with attributes, and model encoding. Shared by the BERT generator and the dynamic quantizer.
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.IModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;

export const DataType = onnxProto.onnx.TensorProto.DataType;
export type DataTypeValue = onnxProto.onnx.TensorProto.DataType;

/** Typed arrays we can store as little-endian raw_data; the element type follows from the array class. */
export type TensorData = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

/** A dimension: a fixed size, or a symbolic name such as 'batch_size'. */
export type Dim = number | string;

export type AttrValue = number | string | number[] | TensorProto | { float: number } | { floats: number[] };

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // raw_data is little-endian by the ONNX spec; a big-endian host would need byte swaps we do not do.
  throw new Error('crossgate models: the ONNX writer needs a little-endian host');
}

export function dataTypeOf(data: TensorData): DataTypeValue {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Int8Array) return DataType.INT8;
  if (data instanceof Uint8Array) return DataType.UINT8;
  if (data instanceof Int32Array) return DataType.INT32;
  return DataType.INT64;
}

/** A TensorProto whose raw_data views `data`'s bytes (no copy; the caller must not mutate `data` afterwards). */
export function makeTensor(name: string, dims: number[], data: TensorData): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`tensor '${name}': dims [${dims.join(', ')}] hold ${count} values but the data has ${data.length}`);
  }
  return {
    name,
    dims,
    dataType: dataTypeOf(data),
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

/** The float values of a FLOAT initializer, from raw_data or float_data (exporters use both). */
export function tensorFloats(t: TensorProto): Float32Array {
  if (t.dataType !== DataType.FLOAT) throw new TypeError(`tensor '${t.name}' is not FLOAT (data_type ${t.dataType})`);
  if (t.rawData && t.rawData.length > 0) {
    const raw = t.rawData;
    if (raw.byteLength % 4 !== 0) throw new RangeError(`tensor '${t.name}': raw_data holds ${raw.byteLength} bytes, not a whole number of floats`);
    // raw_data may sit at an unaligned offset inside the decode buffer; copy when it does. (Not with
    // raw.slice(): on a Node Buffer that is a view, and .buffer would be the whole file.)
    if (raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    const copy = new Uint8Array(raw.byteLength);
    copy.set(raw);
    return new Float32Array(copy.buffer);
  }
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new Error(`tensor '${t.name}' keeps its data in an external file; load the model with its .onnx_data beside it and re-save it inline`);
  }
  return Float32Array.from(t.floatData ?? []);
}

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => Number(d));
}

function valueInfo(name: string, elemType: DataTypeValue, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export function makeAttribute(name: string, value: AttrValue): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError(`attribute '${name}': use { float: ${value} } for a float attribute`);
    return { name, type: T.INT, i: value };
  }
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if ('float' in value) return { name, type: T.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: T.FLOATS, floats: value.floats };
  return { name, type: T.TENSOR, t: value };
}

export function makeNode(opType: string, inputs: string[], outputs: string[], name: string, attrs: Record<string, AttrValue> = {}, domain = ''): NodeProto {
  const node: NodeProto = {
    opType,
    input: inputs,
    output: outputs,
    name,
    attribute: Object.entries(attrs).map(([k, v]) => makeAttribute(k, v)),
  };
  if (domain) node.domain = domain;
  return node;
}

/**
 * Builds one graph. Names are explicit where a reader of the ONNX file would look for them
 * (weights, inputs, outputs); intermediate values get `/<scope>/<Op>_output_0` names the way
 * torch.onnx does, so the files read like exporter output in Netron.
 */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  #names = new Set<string>();
  #constCache = new Map<string, string>();
  #scope = '';

  constructor(readonly name: string) {}

  /** Runs `fn` with node and value names prefixed by `scope` (e.g. '/encoder/layer.0/attention'). */
  scoped<T>(scope: string, fn: () => T): T {
    const saved = this.#scope;
    this.#scope = saved + scope;
    try {
      return fn();
    } finally {
      this.#scope = saved;
    }
  }

  #unique(base: string): string {
    let name = base;
    for (let i = 1; this.#names.has(name); i++) name = `${base}_${i}`;
    this.#names.add(name);
    return name;
  }

  input(name: string, elemType: DataTypeValue, dims: Dim[]): string {
    this.#names.add(name);
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Declares `value` (already produced by a node) as a graph output. */
  output(value: string, elemType: DataTypeValue, dims: Dim[]): string {
    this.outputs.push(valueInfo(value, elemType, dims));
    return value;
  }

  initializer(name: string, dims: number[], data: TensorData): string {
    if (this.#names.has(name)) throw new Error(`graph '${this.name}': the name '${name}' is already taken`);
    this.#names.add(name);
    this.initializers.push(makeTensor(name, dims, data));
    return name;
  }

  /** A shared scalar or 1-D constant initializer; repeated values reuse one tensor. */
  constant(data: TensorData, dims: number[] = []): string {
    const key = `${dataTypeOf(data)}:${dims.join('x')}:${Array.from(data as ArrayLike<number | bigint>, String).join(',')}`;
    const hit = this.#constCache.get(key);
    if (hit) return hit;
    const name = this.#unique(`onnx::Constant_${this.#constCache.size}`);
    this.initializers.push(makeTensor(name, dims, data));
    this.#constCache.set(key, name);
    return name;
  }

  scalarFloat(v: number): string {
    return this.constant(new Float32Array([v]));
  }

  scalarInt64(v: number): string {
    return this.constant(new BigInt64Array([BigInt(v)]));
  }

  int64s(values: number[]): string {
    return this.constant(BigInt64Array.from(values.map((v) => BigInt(v))), [values.length]);
  }

  /** Adds a node; returns its output names (one per `outputCount`). */
  nodeN(opType: string, inputs: string[], outputCount: number, attrs: Record<string, AttrValue> = {}, outputNames?: string[]): string[] {
    const nodeName = this.#unique(`${this.#scope}/${opType}`);
    const outputs = outputNames ?? Array.from({ length: outputCount }, (_, i) => this.#unique(`${nodeName}_output_${i}`));
    for (const o of outputNames ?? []) this.#names.add(o);
    this.nodes.push(makeNode(opType, inputs, outputs, nodeName, attrs));
    return outputs;
  }

  /** Adds a single-output node and returns that output's name. */
  node(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputName?: string): string {
    return this.nodeN(opType, inputs, 1, attrs, outputName ? [outputName] : undefined)[0];
  }

  graph(): GraphProto {
    return {
      name: this.name,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    };
  }
}

export interface ModelOptions {
  opset?: number;          // ai.onnx opset; 17 is the first with LayerNormalization
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  extraOpsets?: { domain: string; version: number }[];
}

export function makeModel(graph: GraphProto, opts: ModelOptions = {}): ModelProto {
  return {
    irVersion: opts.irVersion ?? 8,
    producerName: opts.producerName ?? 'crossgate',
    producerVersion: opts.producerVersion ?? '1',
    docString: opts.docString ?? '',
    opsetImport: [{ domain: '', version: opts.opset ?? 17 }, ...(opts.extraOpsets ?? [])],
    graph,
  };
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(bytes);
}
