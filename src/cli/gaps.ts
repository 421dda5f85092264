// `crossgate gaps`: the report of what a collection could not answer, read from its gap log: grouped
// queries with counts and best probabilities, and the no-result rate.
import { resolve } from 'node:path';
import { defaultGapLogPath, readGapLog } from '../pipeline/gaps.js';
import { buildGapReport, formatGapReport, parseDuration } from '../pipeline/gaps-report.js';
import { HELP_OPTION, optionalString, UsageError, type CommandSpec } from './args.js';
import { Output } from './io.js';

export const gapsCommand: CommandSpec = {
  name: 'gaps',
  summary: 'report the queries a collection could not answer (grouped, counted) and the no-result rate',
  usage: ['gaps --index PATH [--since DURATION] [--json]', 'gaps --gap-log FILE [--since DURATION] [--json]'],
  options: {
    index: { type: 'string', value: 'PATH', description: 'Collection directory; its log is <PATH>.gaps.jsonl unless --gap-log says otherwise.' },
    'gap-log': { type: 'string', value: 'FILE', description: 'The gap log to read (default <index>.gaps.jsonl; env CROSSGATE_GAP_LOG).' },
    since: { type: 'string', value: 'DURATION', description: 'Only decisions newer than this: 90s, 30m, 24h, 7d, 2w (default: everything kept).' },
    json: { type: 'boolean', description: 'Print the report as one JSON object.' },
    ...HELP_OPTION,
  },
  details: [
    'Queries are grouped by normalised text (case, accents, punctuation, stop words, word order) with',
    'near-duplicates (typos, mostly the same words) merged; each group has its count, outcomes and the best',
    'probability any candidate reached. Rates are over every decision logged in the window (answers are',
    'tallied without their text): no-result rate = no_relevant / all, no-answer rate adds ambiguous.',
  ],
  async run(values) {
    const spec = gapsCommand;
    const index = optionalString(values, 'index');
    const env = process.env.CROSSGATE_GAP_LOG;
    const explicit = optionalString(values, 'gap-log') ?? (env && !['off', 'false', '0', 'none', ''].includes(env.trim().toLowerCase()) ? env : undefined);
    if (explicit === undefined && index === undefined) throw new UsageError('--index or --gap-log is required', spec);
    const path = explicit ?? defaultGapLogPath(resolve(index!));
    let since: Date | null = null;
    const sinceArg = optionalString(values, 'since');
    if (sinceArg !== undefined) {
      try {
        since = new Date(Date.now() - parseDuration(sinceArg));
      } catch (e) {
        throw new UsageError((e as Error).message, spec);
      }
    }
    const log = await readGapLog(path, since ? { since } : {});
    const report = buildGapReport(log, { since });
    const out = new Output();
    if (values.json === true) {
      await out.line(JSON.stringify({ ...report, exists: log.exists }));
      return;
    }
    if (!log.exists) {
      await out.line(`no gap log at ${log.path} yet: nothing has been recorded (searches with --cross-encoder write it)`);
      return;
    }
    for (const l of formatGapReport(report)) await out.line(l);
  },
};
