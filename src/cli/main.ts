#!/usr/bin/env node
// The `crossgate` command: dispatches to one module per command, prints help, and maps errors to exit
// codes (1: the command failed, one line on stderr; 2: it was called wrongly, message plus usage).
import { ApiError, cliExitCode } from '../server/errors.js';
import { VERSION } from '../version.js';
import { ModelKindError } from '../models/model-dir.js';
import { DEFAULT_CPU_WORKERS } from '../infer/options.js';
import { didYouMean, formatHelp, formatUsageError, parseCommand, UsageError, type CommandSpec } from './args.js';
import { askCommand } from './ask.js';
import { calibrateCommand } from './calibrate.js';
import { demoCommand } from './demo.js';
import { embedCommand } from './embed.js';
import { evalCommand } from './eval.js';
import { gapsCommand } from './gaps.js';
import { indexBuildCommand } from './index-build.js';
import { ingestCommand } from './ingest.js';
import { modelsCommand } from './models.js';
import { rerankCommand } from './rerank.js';
import { searchCommand } from './search.js';
import { serveCommand } from './serve.js';
import { tokenizeCommand } from './tokenize.js';

const COMMANDS: readonly CommandSpec[] = [demoCommand, tokenizeCommand, rerankCommand, embedCommand, indexBuildCommand, ingestCommand, searchCommand, askCommand, gapsCommand, serveCommand, modelsCommand, evalCommand, calibrateCommand];

export function topLevelHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'crossgate: retrieve -> rerank -> gate for RAG, with cross-encoders on ONNX Runtime',
    '',
    'Usage: crossgate <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Options shared by commands that load a model:',
    '  --threads N     intra-op threads per ONNX Runtime session (default: cores ÷ workers)',
    `  --workers N     worker threads, one session each (default ${DEFAULT_CPU_WORKERS} on CPU, 1 on CUDA)`,
    '  --quantized     run the quantized ONNX file',
    'A model is a directory or a hub repo id (org/name[@rev]) already in the cache (`crossgate models pull`).',
    '',
    'Run `crossgate <command> --help` for a command\'s options, input and output formats.',
    '',
  ].join('\n');
}

/** Finds the command named by the leading words of argv ('index build' takes two). */
function findCommand(argv: string[]): { spec: CommandSpec; rest: string[] } | null {
  for (const spec of COMMANDS) {
    const words = spec.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return { spec, rest: argv.slice(words.length) };
  }
  return null;
}

export async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const target = first === 'help' && argv.length > 1 ? findCommand(argv.slice(1)) : null;
    process.stdout.write(target ? formatHelp(target.spec) : topLevelHelp());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-V' || first === '-v') {
    process.stdout.write(`crossgate ${VERSION}\n`);
    return 0;
  }
  const found = findCommand(argv);
  try {
    if (!found) {
      const group = COMMANDS.filter((c) => c.name.startsWith(first + ' '));
      if (group.length > 0 && (argv[1] === undefined || argv[1] === '--help' || argv[1] === '-h')) {
        process.stdout.write(`crossgate ${first}: subcommands\n\n${group.map((c) => `  crossgate ${c.name}  ${c.summary}`).join('\n')}\n`);
        return argv[1] === undefined ? 2 : 0;
      }
      const names = [...new Set(COMMANDS.map((c) => c.name.split(' ')[0]))];
      const hint = group.length > 0
        ? didYouMean(argv[1] ?? '', group.map((c) => c.name.split(' ').slice(1).join(' ')))
        : didYouMean(first, names);
      const what = (group.length > 0 ? `unknown subcommand "${first} ${argv[1]}"` : `unknown command "${first}"`) +
        (hint ? `; did you mean "${group.length > 0 ? `${first} ${hint}` : hint}"?` : '');
      throw new UsageError(what, null);
    }
    // serve (repeatable flags, --no-x, env fallbacks) and models (subcommands) parse argv themselves.
    if (found.spec.runArgv) {
      await found.spec.runArgv(found.rest);
      return 0;
    }
    const values = parseCommand(found.spec, found.rest);
    if (values.help === true) {
      process.stdout.write(formatHelp(found.spec));
      return 0;
    }
    await found.spec.run(values);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(formatUsageError(e));
      return 2;
    }
    const msg = e instanceof ModelKindError ? e.cliMessage : e instanceof Error ? e.message : String(e);
    process.stderr.write(`crossgate${found ? ' ' + found.spec.name : ''}: ${msg.split('\n')[0]}\n`);
    if (process.env.CROSSGATE_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    // A server-kind error (same vocabulary as HTTP and WS) exits with its kind's code; anything else is 1.
    return e instanceof ApiError ? cliExitCode(e.type) : 1;
  }
}

// A reader that stops early (`crossgate demo | head`) is not an error: stop quietly, as Unix tools do.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

// Exit via exitCode (not process.exit) so buffered stdout reaches a pipe before the process ends.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`crossgate: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
