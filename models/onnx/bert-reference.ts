// A plain-JS forward pass of the BERT graph that bert.ts builds, reading the same initializers: the
// scalar reference twin used to check the ONNX graph in tests and to calibrate the classifier head.
import { tensorFloats, type ModelProto } from '../../src/models/onnx/graph.js';
import type { BertConfig } from './bert-config.js';

/** erf to ~1e-7 (Abramowitz & Stegun 7.1.26); JS has no Math.erf. */
export function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

export interface ReferenceOutput {
  /** [seq, hidden] row-major. */
  lastHiddenState: Float64Array;
  /** Cross-encoders only. */
  logits?: Float64Array;
}

export class BertReference {
  readonly #w = new Map<string, Float32Array>();

  constructor(model: ModelProto, readonly config: BertConfig) {
    for (const t of model.graph?.initializer ?? []) {
      if (t.name && t.dataType === 1) this.#w.set(t.name, tensorFloats(t));
    }
  }

  #get(name: string): Float32Array {
    const w = this.#w.get(name);
    if (!w) throw new Error(`reference: the model has no float initializer '${name}' (was it quantized?)`);
    return w;
  }

  /** y[t] = x[t] W + b with W stored [in, out] (MatMul layout). */
  #linear(x: Float64Array, rows: number, inDim: number, outDim: number, prefix: string): Float64Array {
    const w = this.#get(`${prefix}.weight`);
    const b = this.#get(`${prefix}.bias`);
    const y = new Float64Array(rows * outDim);
    for (let r = 0; r < rows; r++) {
      const yo = r * outDim;
      for (let j = 0; j < outDim; j++) y[yo + j] = b[j];
      for (let i = 0; i < inDim; i++) {
        const xi = x[r * inDim + i];
        const wo = i * outDim;
        for (let j = 0; j < outDim; j++) y[yo + j] += xi * w[wo + j];
      }
    }
    return y;
  }

  #layerNorm(x: Float64Array, rows: number, prefix: string): Float64Array {
    const H = this.config.hiddenSize;
    const gamma = this.#get(`${prefix}.weight`);
    const beta = this.#get(`${prefix}.bias`);
    for (let r = 0; r < rows; r++) {
      let mean = 0;
      for (let i = 0; i < H; i++) mean += x[r * H + i];
      mean /= H;
      let v = 0;
      for (let i = 0; i < H; i++) v += (x[r * H + i] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / H + this.config.layerNormEps);
      for (let i = 0; i < H; i++) x[r * H + i] = (x[r * H + i] - mean) * inv * gamma[i] + beta[i];
    }
    return x;
  }

  /** One unpadded sequence (attention sees every token). */
  forward(ids: ArrayLike<number>, typeIds: ArrayLike<number>, numLabels = 0): ReferenceOutput {
    const c = this.config;
    const H = c.hiddenSize;
    const S = ids.length;
    const hd = H / c.numHeads;
    const word = this.#get('embeddings.word_embeddings.weight');
    const pos = this.#get('embeddings.position_embeddings.weight');
    const type = this.#get('embeddings.token_type_embeddings.weight');
    let x: Float64Array = new Float64Array(S * H);
    for (let t = 0; t < S; t++) {
      for (let i = 0; i < H; i++) x[t * H + i] = word[ids[t] * H + i] + type[typeIds[t] * H + i] + pos[t * H + i];
    }
    x = this.#layerNorm(x, S, 'embeddings.LayerNorm');

    for (let l = 0; l < c.numLayers; l++) {
      const p = `encoder.layer.${l}`;
      const q = this.#linear(x, S, H, H, `${p}.attention.self.query`);
      const k = this.#linear(x, S, H, H, `${p}.attention.self.key`);
      const v = this.#linear(x, S, H, H, `${p}.attention.self.value`);
      const ctx = new Float64Array(S * H);
      const scores = new Float64Array(S);
      for (let h = 0; h < c.numHeads; h++) {
        for (let t = 0; t < S; t++) {
          let max = -Infinity;
          for (let u = 0; u < S; u++) {
            let s = 0;
            for (let d = 0; d < hd; d++) s += q[t * H + h * hd + d] * k[u * H + h * hd + d];
            scores[u] = s / Math.sqrt(hd);
            if (scores[u] > max) max = scores[u];
          }
          let sum = 0;
          for (let u = 0; u < S; u++) sum += scores[u] = Math.exp(scores[u] - max);
          for (let u = 0; u < S; u++) {
            const pr = scores[u] / sum;
            for (let d = 0; d < hd; d++) ctx[t * H + h * hd + d] += pr * v[u * H + h * hd + d];
          }
        }
      }
      const attn = this.#linear(ctx, S, H, H, `${p}.attention.output.dense`);
      for (let i = 0; i < attn.length; i++) attn[i] += x[i];
      const x1 = this.#layerNorm(attn, S, `${p}.attention.output.LayerNorm`);
      const inter = this.#linear(x1, S, H, c.intermediateSize, `${p}.intermediate.dense`);
      for (let i = 0; i < inter.length; i++) inter[i] = inter[i] * 0.5 * (1 + erf(inter[i] / Math.SQRT2));
      const out = this.#linear(inter, S, c.intermediateSize, H, `${p}.output.dense`);
      for (let i = 0; i < out.length; i++) out[i] += x1[i];
      x = this.#layerNorm(out, S, `${p}.output.LayerNorm`);
    }
    if (numLabels === 0) return { lastHiddenState: x };

    // Gemm layers keep PyTorch's [out, in] weight layout.
    const gemm = (v: ArrayLike<number>, prefix: string, inDim: number, outDim: number): Float64Array => {
      const w = this.#get(`${prefix}.weight`);
      const b = this.#get(`${prefix}.bias`);
      const y = new Float64Array(outDim);
      for (let j = 0; j < outDim; j++) {
        let s = b[j];
        for (let i = 0; i < inDim; i++) s += v[i] * w[j * inDim + i];
        y[j] = s;
      }
      return y;
    };
    const pooled = gemm(x.subarray(0, H), 'pooler.dense', H, H).map(Math.tanh);
    return { lastHiddenState: x, logits: gemm(pooled, 'classifier', H, numLabels) };
  }
}
