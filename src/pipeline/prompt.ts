// Assembles the prompt an LLM receives from the passages that passed the gate, numbered [1], [2], ... so
// the answer can cite them and the citations can be mapped back to document ids. No prompt when nothing passed.

/** A passage as the prompt sees it: its text and, when it came from a collection, its document id. */
export interface PromptPassage {
  text: string;
  id?: string;
}

/** What the caller is told when no passage passed the gate: an explicit refusal instead of a guess. */
export const NO_RELEVANT_MESSAGE =
  'No passage passed the relevance threshold; not sending anything to the LLM (answer "I don\'t know" or fall back to another search).';

/** What the caller is told when the best passage sits inside the ambiguous band. */
export const AMBIGUOUS_MESSAGE =
  'The best passage sits between the ambiguous band\'s lower and upper bounds: the answer below is uncertain; check the cited passages.';

/** The system message sent with the prompt: answer from the context only, cite by number. */
export const SYSTEM_MESSAGE =
  'You answer questions using only the numbered context passages you are given. Cite the passages you use as [1], [2], ... ' +
  'right after the sentence they support. If the context does not contain the answer, say that you do not know.';

export interface PromptOptions {
  /** The passages only partly clear the gate (outcome ambiguous): ask the model to say how sure it is. */
  uncertain?: boolean;
}

/**
 * Builds a grounded prompt: numbered context passages (most relevant first), then the question, with
 * an instruction to answer only from the context and cite passages by number. Passages keep their
 * order; the caller sorts them. Passage n of the prompt is `passages[n - 1]`.
 */
export function buildPrompt(query: string, passages: readonly PromptPassage[], opts: PromptOptions = {}): string {
  if (passages.length === 0) throw new RangeError('buildPrompt: passages is empty; a prompt needs at least one kept passage');
  const context = passages
    .map((p, i) => `[${i + 1}]${p.id !== undefined ? ` (${p.id})` : ''} ${p.text.replace(/\s+/g, ' ').trim()}`)
    .join('\n');
  return [
    'Answer the question using only the context below. If the context does not contain the answer, say that you do not know.',
    'Cite the passages you use by their number, like [1].',
    ...(opts.uncertain ? ['The context is only loosely related to the question: say so if it does not clearly answer it.'] : []),
    '',
    'Context:',
    context,
    '',
    `Question: ${query.trim()}`,
    'Answer:',
  ].join('\n');
}
