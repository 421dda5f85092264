// `crossgate tokenize`: JSONL {"text", "text_pair"?} on stdin -> JSONL {"ids", "type_ids"} on stdout,
// unpadded, one line per input line, with the model's max length (what the model would actually see).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../tokenize/tokenizer.js';
import { loadModelDir } from '../models/model-dir.js';
import { HELP_OPTION, optionalInt, requireString, type CommandSpec } from './args.js';
import { hintIfInteractive, Output, parseJsonObjectLine, readLines } from './io.js';
import { resolveModelArg } from './model-paths.js';

const EXPECTED = '{"text": string, "text_pair"?: string}';

/** The tokenizer and the max length a model dir (or cached hub repo id) implies; accepts a tokenizer.json path too. */
function openTokenizer(value: string): { tokenizer: Tokenizer; maxLength: number } {
  // A repo id resolves to its snapshot in the hub cache; anything else is a path, checked below.
  const path = resolveModelArg('--model', value);
  if (!existsSync(path)) throw new Error(`--model ${value} does not exist; pass a model directory (with tokenizer.json), a tokenizer.json file, or a hub repo id (org/name) pulled with \`crossgate models pull\``);
  if (statSync(path).isFile()) {
    const tokenizer = Tokenizer.fromFile(path);
    return { tokenizer, maxLength: tokenizer.maxLength };
  }
  const file = join(path, 'tokenizer.json');
  if (!existsSync(file)) throw new Error(`--model ${path} has no tokenizer.json; pass a Hugging Face model directory or a tokenizer.json file`);
  const tokenizer = Tokenizer.fromFile(file);
  try {
    // The model's max length (max_seq_length for sentence-transformers) is what inference truncates to.
    return { tokenizer, maxLength: loadModelDir(path).maxLength };
  } catch {
    return { tokenizer, maxLength: tokenizer.maxLength };
  }
}

export const tokenizeCommand: CommandSpec = {
  name: 'tokenize',
  summary: 'encode JSONL texts (and optional pairs) into token ids',
  usage: ['tokenize --model DIR|REPO [--max-length N] < input.jsonl > ids.jsonl'],
  options: {
    model: { type: 'string', value: 'DIR', description: 'Model directory holding tokenizer.json, the tokenizer.json file itself, or a cached hub repo id (org/name[@rev]). Required.' },
    'max-length': { type: 'string', value: 'N', description: "Truncate each encoding to N tokens (default: the model's max length)." },
    ...HELP_OPTION,
  },
  details: [
    `Input: one JSON object per line, ${EXPECTED}. Blank lines are skipped.`,
    'Output: one {"ids": number[], "type_ids": number[]} per input line, same order, no padding, special tokens included.',
    'A bad line stops the command with an error naming its line number (exit 1).',
  ],
  async run(values) {
    const spec = tokenizeCommand;
    const model = requireString(values, 'model', spec);
    const maxArg = optionalInt(values, 'max-length', spec, 2);
    const { tokenizer, maxLength } = openTokenizer(model);
    const opts = { maxLength: maxArg ?? maxLength };
    const out = new Output();
    hintIfInteractive('JSON objects');
    for await (const line of readLines()) {
      if (line.text.trim().length === 0) continue;
      const obj = parseJsonObjectLine(line, EXPECTED);
      if (typeof obj.text !== 'string') throw new Error(`stdin line ${line.n}: "text" is ${obj.text === undefined ? 'missing' : typeof obj.text}; expected ${EXPECTED}`);
      if (obj.text_pair !== undefined && obj.text_pair !== null && typeof obj.text_pair !== 'string') {
        throw new Error(`stdin line ${line.n}: "text_pair" is ${typeof obj.text_pair}; expected a string or no text_pair`);
      }
      let enc;
      try {
        enc = tokenizer.encode(obj.text, typeof obj.text_pair === 'string' ? obj.text_pair : undefined, opts);
      } catch (e) {
        throw new Error(`stdin line ${line.n}: ${(e as Error).message}`);
      }
      await out.line(`{"ids":[${enc.ids.join(',')}],"type_ids":[${enc.typeIds.join(',')}]}`);
    }
  },
};
