// The one argv walker every crossgate command goes through (the CLI's parseCommand and the server's
// parseServerConfig): it knows flags, values and positionals; what the values mean is the caller's business.
// It lives in the server room because parseServerConfig (a library API) uses it and the server may not import cli.

export type ParsedValues = Record<string, string | boolean | string[] | undefined>;

export interface ArgvOption {
  type: 'string' | 'boolean';
  short?: string;
  /** Given several times: the values are collected in order (string options only). */
  multiple?: boolean;
  /** A boolean that also takes --no-NAME (false), --NAME=VALUE, and a following word for which takesValue() is true. */
  negatable?: boolean;
  takesValue?: (next: string) => boolean;
}

/** A mistake found while walking argv, before any command knows of it: the flag and what is wrong. */
export class ArgvError extends Error {
  readonly flag: string | null;
  readonly kind: 'unknown' | 'missing-value' | 'unexpected-value' | 'positional';
  constructor(kind: ArgvError['kind'], flag: string | null, message: string) {
    super(message);
    this.name = 'ArgvError';
    this.kind = kind;
    this.flag = flag;
  }
}

export interface WalkedArgv {
  values: ParsedValues;
  positionals: string[];
  /** Arguments left alone with `unknown: 'keep'`, in order. */
  rest: string[];
}

/**
 * The one argv walker every crossgate command goes through: `--name value`, `--name=value`, `-s value`,
 * booleans as `--name` (and `--no-name` / `--name=false` / `--name false` when negatable), repeatable
 * options, positionals and `--`. A value may start with one dash (-1) but not two. With unknown 'keep',
 * arguments it does not know go to `rest` (parseServerConfig takes its flags and leaves the others).
 */
export function walkArgv(
  argv: readonly string[],
  options: Record<string, ArgvOption>,
  opts: { positionals?: boolean; unknown?: 'error' | 'keep' } = {},
): WalkedArgv {
  const values: ParsedValues = {};
  const positionals: string[] = [];
  const rest: string[] = [];
  const byShort = new Map(Object.entries(options).filter(([, o]) => o.short).map(([n, o]) => [`-${o.short}`, n]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      if (opts.unknown === 'keep') rest.push(arg);
      else if (opts.positionals) positionals.push(arg);
      else throw new ArgvError('positional', null, `unexpected argument '${arg}'; this command takes only flags`);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    let name = arg.startsWith('--') ? flag.slice(2) : byShort.get(flag);
    let negated = false;
    if (name !== undefined && !(name in options) && name.startsWith('no-') && options[name.slice(3)]?.negatable && eq < 0) {
      name = name.slice(3);
      negated = true;
    }
    const o = name === undefined ? undefined : options[name];
    if (name === undefined || o === undefined) {
      if (opts.unknown === 'keep') { rest.push(arg); continue; }
      throw new ArgvError('unknown', flag, `unknown option '${flag}'`);
    }
    let v: string | boolean;
    if (o.type === 'boolean') {
      if (negated) v = false;
      else if (eq > 0) {
        if (!o.negatable) throw new ArgvError('unexpected-value', flag, `${flag} does not take a value`);
        v = arg.slice(eq + 1);
      } else if (o.takesValue && argv[i + 1] !== undefined && o.takesValue(argv[i + 1])) v = argv[++i];
      else v = true;
    } else if (eq > 0) v = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new ArgvError('missing-value', flag, `${flag} needs a value`);
      v = next;
      i++;
    }
    if (o.multiple && typeof v === 'string') values[name] = [...((values[name] as string[] | undefined) ?? []), v];
    else values[name] = v;
  }
  return { values, positionals, rest };
}

