// The BERT graph as torch.onnx / Optimum export it (opset 17): embeddings, post-LN encoder layers with
// erf-GELU, and either a pooler + classifier head (cross-encoder) or last_hidden_state (bi-encoder).
import { DataType, GraphBuilder, makeModel, type ModelProto } from '../../src/models/onnx/graph.js';
import { Rng } from '../random.js';
import type { BertConfig } from './bert-config.js';
import { BertReference } from './bert-reference.js';

export type { BertConfig } from './bert-config.js';

export type BertHead = { kind: 'cross-encoder'; numLabels: number } | { kind: 'bi-encoder' };

export interface BertBuildOptions {
  seed: number;
  /**
   * Cross-encoders: rescale and shift the classifier so that, over a fixed set of seeded random pairs,
   * each logit has mean 0 and this standard deviation. Uncalibrated random heads put every logit at
   * +4 or so (sigmoid saturates) or within a fraction of a unit of each other, which hides ranking and
   * activation bugs. Omit to keep the raw random head.
   */
  calibration?: { targetStd: number; pairs: { ids: number[]; typeIds: number[] }[] };
  /** Called after each weight tensor with the number of parameters it holds. */
  onTensor?: (params: number) => void;
}

/** Number of float parameters the graph will hold (for progress totals). */
export function bertParamCount(c: BertConfig, head: BertHead): number {
  const H = c.hiddenSize;
  const emb = (c.vocabSize + c.maxPositions + c.typeVocabSize) * H + 2 * H;
  const layer = 4 * (H * H + H) + 2 * (H * c.intermediateSize) + c.intermediateSize + H + 4 * H;
  const top = head.kind === 'cross-encoder' ? H * H + H + H * head.numLabels + head.numLabels : 0;
  return emb + c.numLayers * layer + top;
}

export function buildBert(c: BertConfig, head: BertHead, opts: BertBuildOptions): ModelProto {
  if (c.hiddenSize % c.numHeads !== 0) throw new RangeError(`hidden_size ${c.hiddenSize} is not a multiple of num_attention_heads ${c.numHeads}`);
  const H = c.hiddenSize;
  const headDim = H / c.numHeads;
  const g = new GraphBuilder('main_graph');

  const tensors = new Map<string, Float32Array>();
  const weight = (name: string, dims: number[], std: number): string => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    tensors.set(name, data);
    if (std > 0) Rng.forTensor(opts.seed, name).fillNormal(data, std);
    g.initializer(name, dims, data);
    opts.onTensor?.(data.length);
    return name;
  };
  const filled = (name: string, dims: number[], value: number): string => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value);
    tensors.set(name, data);
    g.initializer(name, dims, data);
    opts.onTensor?.(data.length);
    return name;
  };
  // BERT's own init (N(0, 0.02)) makes a random 32-wide model nearly input-independent: every sublayer
  // adds ~1% to the residual stream. Fan-in scaling keeps each sublayer's contribution O(1), so the
  // outputs depend on the tokens the way a trained model's do. Embeddings keep 0.02 (LayerNorm rescales them).
  const fanIn = (n: number): number => 1 / Math.sqrt(n);
  const biasStd = 0.02;

  const dynamic = ['batch_size', 'sequence_length'];
  const inputIds = g.input('input_ids', DataType.INT64, dynamic);
  const attentionMask = g.input('attention_mask', DataType.INT64, dynamic);
  const tokenTypeIds = g.input('token_type_ids', DataType.INT64, dynamic);

  const layerNorm = (x: string, prefix: string): string =>
    g.node('LayerNormalization', [x, filled(`${prefix}.weight`, [H], 1), filled(`${prefix}.bias`, [H], 0)], {
      axis: -1,
      epsilon: { float: c.layerNormEps },
    });
  // Linear layers on 3-D activations export as MatMul (weight stored [in, out]) + Add.
  const linear = (x: string, prefix: string, inDim: number, outDim: number, std: number): string => {
    const w = weight(`${prefix}.weight`, [inDim, outDim], std);
    const mm = g.node('MatMul', [x, w]);
    return g.node('Add', [weight(`${prefix}.bias`, [outDim], biasStd), mm]);
  };

  const hidden0 = g.scoped('/embeddings', () => {
    const words = g.node('Gather', [weight('embeddings.word_embeddings.weight', [c.vocabSize, H], 0.02), inputIds], { axis: 0 });
    const types = g.node('Gather', [weight('embeddings.token_type_embeddings.weight', [c.typeVocabSize, H], 0.02), tokenTypeIds], { axis: 0 });
    const shape = g.node('Shape', [inputIds]);
    const seqLen = g.node('Gather', [shape, g.scalarInt64(1)], { axis: 0 });
    const positions = g.node('Range', [g.scalarInt64(0), seqLen, g.scalarInt64(1)]);
    const positionIds = g.node('Unsqueeze', [positions, g.int64s([0])]);
    const pos = g.node('Gather', [weight('embeddings.position_embeddings.weight', [c.maxPositions, H], 0.02), positionIds], { axis: 0 });
    const sum = g.node('Add', [g.node('Add', [words, types]), pos]);
    return layerNorm(sum, 'embeddings.LayerNorm');
  });

  // Additive mask [batch, 1, 1, seq]: 0 where attended, float32 min where padded (what transformers exports).
  const additiveMask = g.scoped('/extended_attention_mask', () => {
    const m = g.node('Cast', [g.node('Unsqueeze', [attentionMask, g.int64s([1, 2])])], { to: DataType.FLOAT });
    return g.node('Mul', [g.node('Sub', [g.scalarFloat(1), m]), g.scalarFloat(-3.4028234663852886e38)]);
  });

  let hidden = hidden0;
  for (let l = 0; l < c.numLayers; l++) {
    const p = `encoder.layer.${l}`;
    hidden = g.scoped(`/encoder/layer.${l}`, () => {
      const x = hidden;
      const attnOut = g.scoped('/attention', () => {
        const heads = (v: string, perm: number[]): string =>
          g.node('Transpose', [g.node('Reshape', [v, g.int64s([0, 0, c.numHeads, headDim])])], { perm });
        const q = heads(linear(x, `${p}.attention.self.query`, H, H, fanIn(H)), [0, 2, 1, 3]);
        const kT = heads(linear(x, `${p}.attention.self.key`, H, H, fanIn(H)), [0, 2, 3, 1]);
        const v = heads(linear(x, `${p}.attention.self.value`, H, H, fanIn(H)), [0, 2, 1, 3]);
        const scores = g.node('Add', [g.node('Div', [g.node('MatMul', [q, kT]), g.scalarFloat(Math.sqrt(headDim))]), additiveMask]);
        const probs = g.node('Softmax', [scores], { axis: -1 });
        const ctx = g.node('Transpose', [g.node('MatMul', [probs, v])], { perm: [0, 2, 1, 3] });
        const merged = g.node('Reshape', [ctx, g.int64s([0, 0, H])]);
        const out = linear(merged, `${p}.attention.output.dense`, H, H, fanIn(H));
        return layerNorm(g.node('Add', [out, x]), `${p}.attention.output.LayerNorm`);
      });
      const inter = g.scoped('/intermediate', () => {
        const h = linear(attnOut, `${p}.intermediate.dense`, H, c.intermediateSize, fanIn(H));
        // erf-GELU exactly as torch exports nn.functional.gelu: x * 0.5 * (1 + erf(x / sqrt(2))).
        const erf = g.node('Erf', [g.node('Div', [h, g.scalarFloat(Math.SQRT2)])]);
        return g.node('Mul', [g.node('Mul', [h, g.node('Add', [erf, g.scalarFloat(1)])]), g.scalarFloat(0.5)]);
      });
      return g.scoped('/output', () => {
        const out = linear(inter, `${p}.output.dense`, c.intermediateSize, H, fanIn(c.intermediateSize));
        return layerNorm(g.node('Add', [out, attnOut]), `${p}.output.LayerNorm`);
      });
    });
  }

  if (head.kind === 'bi-encoder') {
    // Rename the last LayerNorm's output so the graph output carries the exporter's name.
    const last = g.nodes[g.nodes.length - 1];
    last.output = ['last_hidden_state'];
    g.output('last_hidden_state', DataType.FLOAT, ['batch_size', 'sequence_length', H]);
  } else {
    // 2-D linear layers export as Gemm with the PyTorch [out, in] weight and transB=1.
    const gemm = (x: string, prefix: string, inDim: number, outDim: number, std: number, outName?: string): string =>
      g.node('Gemm', [x, weight(`${prefix}.weight`, [outDim, inDim], std), filled(`${prefix}.bias`, [outDim], 0)], { alpha: { float: 1 }, beta: { float: 1 }, transB: 1 }, outName);
    const pooled = g.scoped('/pooler', () => {
      const cls = g.node('Gather', [hidden, g.scalarInt64(0)], { axis: 1 });
      return g.node('Tanh', [gemm(cls, 'pooler.dense', H, H, fanIn(H))]);
    });
    g.scoped('/classifier', () => gemm(pooled, 'classifier', H, head.numLabels, fanIn(H), 'logits'));
    g.output('logits', DataType.FLOAT, ['batch_size', head.numLabels]);
  }

  const model = makeModel(g.graph(), { opset: 17, irVersion: 8, producerName: 'crossgate-models', producerVersion: '1' });
  if (head.kind === 'cross-encoder' && opts.calibration) {
    calibrateClassifier(model, c, head.numLabels, opts.calibration, tensors.get('classifier.weight')!, tensors.get('classifier.bias')!);
  }
  return model;
}

/** Rounds to 4 significant digits so last-bit differences in Math.exp/tanh across hosts cannot change the bytes. */
function round4(v: number): number {
  return Number(v.toPrecision(4));
}

function calibrateClassifier(
  model: ModelProto, c: BertConfig, numLabels: number,
  cal: NonNullable<BertBuildOptions['calibration']>, weight: Float32Array, bias: Float32Array,
): void {
  const ref = new BertReference(model, c);
  const pairs = cal.pairs.length;
  if (pairs < 2) throw new RangeError('classifier calibration needs at least 2 pairs');
  const logits = cal.pairs.map((p) => ref.forward(p.ids, p.typeIds, numLabels).logits!);
  const H = c.hiddenSize;
  for (let j = 0; j < numLabels; j++) {
    const vals = logits.map((l) => l[j] - bias[j]);
    const mean = vals.reduce((a, b) => a + b, 0) / pairs;
    const std = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / pairs) || 1;
    const k = round4(cal.targetStd / std);
    for (let i = 0; i < H; i++) weight[j * H + i] *= k;
    bias[j] = round4(-k * mean);
  }
}
