// Assembles the prompt an LLM would receive from the passages that passed the gate. The pipeline stops
// here: crossgate never calls a generator itself, and returns no prompt at all when nothing passed.

/** A passage as the prompt sees it: its text and, when it came from a collection, its document id. */
export interface PromptPassage {
  text: string;
  id?: string;
}

/** What the caller is told when no passage passed the gate: an explicit refusal instead of a guess. */
export const NO_RELEVANT_MESSAGE =
  'No passage passed the relevance threshold; not sending anything to the LLM (answer "I don\'t know" or fall back to another search).';

/**
 * Builds a grounded prompt: numbered context passages (most relevant first), then the question, with
 * an instruction to answer only from the context. Passages keep their order; the caller sorts them.
 */
export function buildPrompt(query: string, passages: readonly PromptPassage[]): string {
  if (passages.length === 0) throw new RangeError('buildPrompt: passages is empty; a prompt needs at least one kept passage');
  const context = passages
    .map((p, i) => `[${i + 1}]${p.id !== undefined ? ` (${p.id})` : ''} ${p.text.replace(/\s+/g, ' ').trim()}`)
    .join('\n');
  return [
    'Answer the question using only the context below. If the context does not contain the answer, say that you do not know.',
    '',
    'Context:',
    context,
    '',
    `Question: ${query.trim()}`,
    'Answer:',
  ].join('\n');
}
