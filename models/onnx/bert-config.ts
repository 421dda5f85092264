// The BERT shape shared by the graph builder (bert.ts) and its reference evaluator (bert-reference.ts),
// in a file of its own so neither imports the other both ways.
export interface BertConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
}
