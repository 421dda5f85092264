// A throwaway experiment for trial 4, not a model tool: rewrites the generated BERT graph into the fused
// contrib ops ONNX Runtime's CPU provider has kernels for (com.microsoft MultiHeadAttention and
// SkipLayerNormalization), which ORT's own level-2 fusions do not find in this export. It measures what
// "emit fused ops in models/onnx/bert.ts" (or run ORT's transformer optimizer) would buy, fp32 and int8.
import type { ModelProto, NodeProto } from '../../src/models/onnx/graph.js';
import { makeNode } from '../../src/models/onnx/graph.js';

export interface FuseReport { attention: number; skipLayerNorm: number }

/** Returns a new model with every matched attention block and residual Add+LayerNorm fused. */
export function fuseBert(model: ModelProto, numHeads: number): { model: ModelProto; report: FuseReport } {
  const graph = model.graph!;
  const nodes = [...(graph.node ?? [])];
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of nodes) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const inits = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const prod = (name: string | undefined | null, op: string): NodeProto | undefined => {
    const p = name ? producer.get(name) : undefined;
    return p && p.opType === op ? p : undefined;
  };
  const replaced = new Map<NodeProto, NodeProto>();
  const added: NodeProto[] = [];
  const report: FuseReport = { attention: 0, skipLayerNorm: 0 };

  // attention_mask (int64 [B, S]) -> int32 key padding mask, once.
  const maskInt32 = 'attention_mask_int32_for_mha';
  let maskAdded = false;

  for (const sm of nodes.filter((n) => n.opType === 'Softmax')) {
    const addMask = prod(sm.input?.[0], 'Add');
    const div = addMask && (prod(addMask.input?.[0], 'Div') ?? prod(addMask.input?.[1], 'Div'));
    const qk = div && prod(div.input?.[0], 'MatMul');
    const qT = qk && prod(qk.input?.[0], 'Transpose');
    const kT = qk && prod(qk.input?.[1], 'Transpose');
    const qR = qT && prod(qT.input?.[0], 'Reshape');
    const kR = kT && prod(kT.input?.[0], 'Reshape');
    const pv = (consumers.get(sm.output![0]) ?? []).find((c) => c.opType === 'MatMul');
    const vT = pv && prod(pv.input?.[1], 'Transpose');
    const vR = vT && prod(vT.input?.[0], 'Reshape');
    const ctxT = pv && (consumers.get(pv.output![0]) ?? []).find((c) => c.opType === 'Transpose');
    const merged = ctxT && (consumers.get(ctxT.output![0]) ?? []).find((c) => c.opType === 'Reshape');
    if (!qR || !kR || !vR || !merged) continue;
    if (!maskAdded) {
      added.push(makeNode('Cast', ['attention_mask'], [maskInt32], 'mha_mask_cast', { to: 6 /* INT32 */ }));
      maskAdded = true;
    }
    const mha = makeNode('MultiHeadAttention', [qR.input![0], kR.input![0], vR.input![0], '', maskInt32], [merged.output![0]],
      `${merged.name ?? 'attn'}_mha`, { num_heads: numHeads }, 'com.microsoft');
    replaced.set(merged, mha);
    report.attention++;
  }

  for (const ln of nodes.filter((n) => n.opType === 'LayerNormalization')) {
    const add = prod(ln.input?.[0], 'Add');
    if (!add || (consumers.get(add.output![0]) ?? []).length !== 1) continue;
    const [a, b] = add.input ?? [];
    if (!a || !b || inits.has(a) || inits.has(b)) continue;
    // Only residual sums: one side is the previous LayerNorm's output (not the embeddings' broadcast Add).
    const isResidual = (x: string): boolean => producer.get(x)?.opType === 'LayerNormalization';
    if (!isResidual(a) && !isResidual(b)) continue;
    const eps = (ln.attribute ?? []).find((t) => t.name === 'epsilon')?.f ?? 1e-12;
    const skip = makeNode('SkipLayerNormalization', [a, b, ln.input![1], ln.input![2]], [ln.output![0]], `${ln.name ?? 'ln'}_skip`,
      { epsilon: { float: eps } }, 'com.microsoft');
    replaced.set(ln, skip);
    report.skipLayerNorm++;
  }

  // New node list in the old order, then dead-code elimination from the graph outputs.
  let out: NodeProto[] = [...added, ...nodes.map((n) => replaced.get(n) ?? n)];
  const live = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const keep = new Set<NodeProto>();
  for (let i = out.length - 1; i >= 0; i--) {
    const n = out[i];
    if ((n.output ?? []).some((o) => live.has(o))) {
      keep.add(n);
      for (const x of n.input ?? []) if (x) live.add(x);
    }
  }
  out = out.filter((n) => keep.has(n));
  const usedInits = new Set(out.flatMap((n) => n.input ?? []));
  const opsets = [...(model.opsetImport ?? [])];
  if (!opsets.some((o) => o.domain === 'com.microsoft')) opsets.push({ domain: 'com.microsoft', version: 1 });
  return {
    model: {
      ...model,
      opsetImport: opsets,
      graph: { ...graph, node: out, initializer: (graph.initializer ?? []).filter((t) => usedInits.has(t.name ?? '')) },
    },
    report,
  };
}
