// Generation: the LLM seam, its OpenAI-compatible implementation, and the ask stream built on a decision.
export * from './client.js';
export * from './answer.js';
