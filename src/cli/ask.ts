// `crossgate ask`: the decision flow, then the answer streamed from any OpenAI-compatible endpoint, with
// the citations mapped back to document ids. Nothing is generated when no passage passed the gate.
import { apiKeyFromEnv, answerEvents, DEFAULT_LLM_IDLE_TIMEOUT_MS, DEFAULT_LLM_TIMEOUT_MS, OpenAiCompatibleLlm, type AskEvent, type LlmClient, type LlmConfig } from '../llm/index.js';
import { HELP_OPTION, INFER_OPTIONS, optionalInt, optionalString, UsageError, type CommandSpec, type ParsedValues } from './args.js';
import { f4, formatPath } from './format.js';
import { Output } from './io.js';
import { DECISION_OPTIONS, openDecisionFlow } from './search.js';

/** The LLM from --llm-* flags, falling back to CROSSGATE_LLM_BASE_URL / CROSSGATE_LLM_MODEL; null when none is configured. */
export function llmFromFlags(values: ParsedValues, spec: CommandSpec, env: NodeJS.ProcessEnv = process.env): LlmClient | null {
  const baseURL = optionalString(values, 'llm-base-url') ?? env.CROSSGATE_LLM_BASE_URL;
  const model = optionalString(values, 'llm-model') ?? env.CROSSGATE_LLM_MODEL;
  if (!baseURL && !model) return null;
  if (!baseURL) throw new UsageError('--llm-model was given without --llm-base-url; pass the endpoint, e.g. --llm-base-url http://127.0.0.1:8080/v1', spec);
  if (!model) throw new UsageError('--llm-base-url was given without --llm-model; pass the model name the endpoint serves', spec);
  const config: LlmConfig = { baseURL, model };
  const key = apiKeyFromEnv(env);
  if (key) config.apiKey = key;
  const timeout = optionalInt(values, 'llm-timeout', spec, 1);
  const idle = optionalInt(values, 'llm-idle-timeout', spec, 1);
  const maxTokens = optionalInt(values, 'llm-max-tokens', spec, 1);
  if (timeout !== undefined) config.timeoutMs = timeout;
  if (idle !== undefined) config.idleTimeoutMs = idle;
  if (maxTokens !== undefined) config.maxTokens = maxTokens;
  try {
    return new OpenAiCompatibleLlm(config);
  } catch (e) {
    throw new UsageError((e as Error).message, spec);
  }
}

export const LLM_OPTIONS = {
  'llm-base-url': { type: 'string', value: 'URL', description: 'OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1 (env CROSSGATE_LLM_BASE_URL). Key: $CROSSGATE_LLM_API_KEY or $OPENAI_API_KEY.' },
  'llm-model': { type: 'string', value: 'NAME', description: 'Model name the endpoint serves (env CROSSGATE_LLM_MODEL).' },
  'llm-timeout': { type: 'string', value: 'MS', description: `Wait this long for the endpoint to start answering (default ${DEFAULT_LLM_TIMEOUT_MS}).` },
  'llm-idle-timeout': { type: 'string', value: 'MS', description: `Longest silence between two tokens (default ${DEFAULT_LLM_IDLE_TIMEOUT_MS}).` },
  'llm-max-tokens': { type: 'string', value: 'N', description: "Longest answer in tokens (default: the server's)." },
} as const;

export const askCommand: CommandSpec = {
  name: 'ask',
  summary: 'search, then stream an answer from an OpenAI-compatible LLM that cites the kept passages',
  usage: ['ask --index PATH --cross-encoder DIR --query Q [--llm-base-url URL --llm-model NAME] [--threshold P] [--fallback keyword|hybrid|off] [--json]'],
  options: {
    ...DECISION_OPTIONS,
    ...LLM_OPTIONS,
    json: { type: 'boolean', description: 'One JSON object per line: the decision, each answer delta, then the final answer (or an error).' },
    ...INFER_OPTIONS,
    ...HELP_OPTION,
  },
  details: [
    'The decision is made as by `crossgate search`; then:',
    '  no_relevant: nothing is generated; the reply says so and the query is recorded in the gap log;',
    '  answer / answer_from_fallback / ambiguous: the prompt (kept passages numbered [1], [2], ...) goes to the LLM,',
    '  the answer streams as it is written, and the final object maps each [n] cited back to its document id.',
    'Without --llm-base-url/--llm-model: the decision and the prompt, for you to send.',
    '--json lines: {"type":"decision","decision":{...}}, {"type":"delta","text":"..."}, ...,',
    '  {"type":"final","text","citations":[{"n","id","index","probability","retriever"}],"generated",...}',
    '  or, when the LLM fails mid-way, {"type":"error","error":{"error_type","message","status"},"partialText"} (exit 1).',
  ],
  async run(values) {
    const spec = askCommand;
    const llm = llmFromFlags(values, spec);
    const flow = await openDecisionFlow(values, spec, { requireCrossEncoder: true });
    const out = new Output();
    const json = values.json === true;
    let failure: string | null = null;
    try {
      const decision = await flow.pipeline!.search(flow.query);
      let streaming = false;
      for await (const ev of answerEvents(decision, llm)) {
        if (json) {
          await out.line(JSON.stringify(ev));
        } else {
          streaming = await printEvent(out, ev, streaming);
        }
        if (ev.type === 'error') failure = ev.error.message;
      }
    } finally {
      await flow.close();
    }
    if (failure !== null) throw new Error(failure);
  },
};

/** Human output: the decision in brief, the answer as it streams, then the sources. Returns whether a stream is open. */
async function printEvent(out: Output, ev: AskEvent, streaming: boolean): Promise<boolean> {
  switch (ev.type) {
    case 'decision': {
      const d = ev.decision;
      await out.line(`query: ${d.query}`);
      await out.line(`path: ${formatPath(d)}`);
      await out.line(`outcome: ${d.outcome}${d.augment ? ' [augment the collection]' : ''}  (kept ${d.kept.length} of ${d.candidates.length}, best ${d.bestProbability === null ? 'none' : f4(d.bestProbability)})`);
      if (d.outcome === 'ambiguous') await out.line('uncertain: the passages only partly clear the gate; check the sources');
      if (d.gap && !d.gap.recorded && d.gap.error) await out.line(`gap log: NOT recorded: ${d.gap.error}`);
      await out.line();
      return false;
    }
    case 'delta':
      await out.write(ev.text);
      return true;
    case 'final':
      if (streaming) await out.line();
      if (!ev.generated) {
        if (ev.prompt !== null && ev.outcome !== 'no_relevant') {
          await out.line(`(${ev.reason})`);
          await out.line('Prompt:');
          for (const l of ev.prompt.split('\n')) await out.line(`  | ${l}`);
        } else {
          await out.line(ev.text);
        }
        return false;
      }
      await out.line();
      if (ev.citations.length > 0) {
        await out.line('Sources:');
        for (const c of ev.citations) await out.line(`  [${c.n}] ${c.id ?? `#${c.index}`}  (probability ${f4(c.probability)}, via ${c.retriever ?? 'input'})`);
      } else {
        await out.line('Sources: the answer cites no passage');
      }
      if (ev.unknownCitations.length > 0) await out.line(`  cited but not in the context: ${ev.unknownCitations.map((n) => `[${n}]`).join(', ')}`);
      return false;
    case 'error':
      if (streaming) await out.line();
      await out.line(`[answer incomplete: ${ev.error.error_type}]`);
      return false;
  }
}
