// The small corpus that `crossgate demo` indexes: five topics, a few off-topic documents, and one error-code
// document that embeddings rarely find but keyword search does, so the demo can walk all three ways.
import type { CollectionDocument } from './collection.js';

export const DEMO_CORPUS: readonly CollectionDocument[] = [
  // dogs / canines
  { id: 'dog-1', text: 'Dogs are domesticated descendants of wolves and have lived alongside humans for thousands of years.', metadata: { topic: 'dogs' } },
  { id: 'dog-2', text: 'Canines such as foxes, coyotes and jackals share a keen sense of smell and strong social instincts.', metadata: { topic: 'dogs' } },
  { id: 'dog-3', text: 'A puppy needs regular walks, a balanced diet and early training to grow into a calm adult dog.', metadata: { topic: 'dogs' } },
  { id: 'dog-4', text: 'Herding breeds like the Border Collie were bred to move sheep and still love a job to do.', metadata: { topic: 'dogs' } },
  // AI / language processing
  { id: 'ai-1', text: 'Natural language processing lets computers read, interpret and generate human language.', metadata: { topic: 'ai' } },
  { id: 'ai-2', text: 'Transformer models use self-attention to weigh every word in a sentence against every other word.', metadata: { topic: 'ai' } },
  { id: 'ai-3', text: 'Artificial intelligence systems learn patterns from data instead of following hand-written rules.', metadata: { topic: 'ai' } },
  { id: 'ai-4', text: 'A cross-encoder reads a query and a passage together and outputs a single relevance score.', metadata: { topic: 'ai' } },
  // small mammals
  { id: 'mammal-1', text: 'The least weasel is the smallest carnivorous mammal, hunting mice and voles in fields and hedges.', metadata: { topic: 'small-mammals' } },
  { id: 'mammal-2', text: 'Ferrets are domesticated relatives of the polecat and are playful, curious pets that sleep much of the day.', metadata: { topic: 'small-mammals' } },
  { id: 'mammal-3', text: 'Stoats change their brown summer coat to white in winter, when the fur is known as ermine.', metadata: { topic: 'small-mammals' } },
  { id: 'mammal-4', text: 'Mink are semi-aquatic members of the weasel family that swim well and hunt fish and frogs.', metadata: { topic: 'small-mammals' } },
  // cooking
  { id: 'cook-1', text: 'To make a simple tomato sauce, soften garlic in olive oil, add crushed tomatoes and simmer for twenty minutes.', metadata: { topic: 'cooking' } },
  { id: 'cook-2', text: 'Resting a steak for a few minutes after cooking lets the juices settle back into the meat.', metadata: { topic: 'cooking' } },
  { id: 'cook-3', text: 'Bread dough rises because yeast ferments sugars and releases carbon dioxide gas.', metadata: { topic: 'cooking' } },
  // personal finance
  { id: 'money-1', text: 'An emergency fund covering three to six months of expenses protects you from unexpected bills.', metadata: { topic: 'finance' } },
  { id: 'money-2', text: 'Index funds spread your savings across many companies, which lowers risk and keeps fees small.', metadata: { topic: 'finance' } },
  { id: 'money-3', text: 'Paying off high-interest credit card debt first usually saves more money than any investment returns.', metadata: { topic: 'finance' } },
  // off-topic
  { id: 'misc-1', text: 'The Eiffel Tower was completed in 1889 for the World Fair in Paris.', metadata: { topic: 'misc' } },
  { id: 'misc-2', text: 'Regular stretching before exercise can improve flexibility and reduce the chance of injury.', metadata: { topic: 'misc' } },
  { id: 'misc-3', text: 'The museum opens at nine on weekdays and at ten on weekends and public holidays.', metadata: { topic: 'misc' } },
  // an error code: an exact token that keyword search matches and embeddings blur
  { id: 'err-1', text: 'Error CG-4711 means the index file was written by a newer crossgate; upgrade crossgate before loading it.', metadata: { topic: 'errors' } },
];

/** The error code only the keyword fallback can be counted on to find (it is in err-1 alone). */
export const DEMO_ERROR_CODE = 'CG-4711';

/**
 * The demo's queries: clear matches in the corpus, two without, one stress test for Unicode, and the error
 * code, whose only match is a keyword match.
 */
export const DEMO_QUERIES: readonly string[] = [
  'tell me about canines',
  'AI and language processing',
  'what are small weasels',
  'how do I save money for emergencies',
  'unrelated query about astrophysics',
  'how do you handle special characters like ü, ß and 漢字?',
  `what does error ${'CG-4711'} mean`,
];

/** The original example's basic comparison: one query, one helpful passage, one merely similar one. */
export const BASIC_EXAMPLE = {
  query: 'How to reset password',
  passages: ["Click on 'Forgot Password' on the login screen", 'Use a strong password with numbers and symbols'],
} as const;
