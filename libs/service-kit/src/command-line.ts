import { parseArgs } from 'node:util';
import { closestMatch } from './suggest';

/**
 * One flag of a command line. `choices` and `int` are checked after parsing, with the allowed values
 * in the message; `list` splits a value at commas (`--scenarios a,b`), `multiple` takes the flag again
 * (`--topic a --topic b`); either gives an array, each element checked.
 */
export type CliOption =
  | { type: 'boolean'; short?: string }
  | { type: 'string'; short?: string; multiple?: boolean; list?: boolean; default?: string; choices?: readonly string[]; int?: { min?: number; max?: number } };

export type CliOptions = Record<string, CliOption>;

type ValueOf<D> = D extends { type: 'boolean' }
  ? boolean
  : D extends { int: object }
    ? number
    : D extends { choices: readonly (infer C)[] }
      ? C
      : string;

type ValuesOf<D> = D extends { multiple: true } | { list: true } ? Array<ValueOf<D>> : ValueOf<D>;

/** Parsed values: booleans are false when absent, options with a default always hold a value. */
export type CliValues<O extends CliOptions> = {
  [K in keyof O]: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { default: string } ? ValuesOf<O[K]> : ValuesOf<O[K]> | undefined;
};

export interface CommandLineSpec<O extends CliOptions> {
  /** Printed for --help (stdout, exit 0) and after a usage error (stderr, exit 2). */
  usage: string;
  options: O;
  /** Positional arguments allowed: none (default), any number, or at most this many. */
  positionals?: boolean | number;
}

export type CommandLine<O extends CliOptions> =
  | { ok: true; values: CliValues<O>; positionals: string[] }
  /** --help (exit 0, `text` for stdout) or a usage error (exit 2, `text` for stderr: the `problem`, then the usage). */
  | { ok: false; exitCode: 0 | 2; text: string; problem?: string };

const HELP_FLAGS = ['--help', '-h'];

/**
 * The one command-line parser of the workspace's TypeScript entry points (apps, ops CLI, chaos suite,
 * benchmarks): `node:util` parseArgs in strict mode, plus `--help`/`-h`, enum (`choices`) and integer
 * (`int`) checks. An unknown flag, a missing or bad value or a stray argument gives exit code 2 with the
 * problem and the usage; it never falls back to a default silently. Does no I/O: the caller prints `text`.
 */
export function parseCommandLine<const O extends CliOptions>(spec: CommandLineSpec<O>, argv: readonly string[]): CommandLine<O> {
  if (argv.some((a) => HELP_FLAGS.includes(a))) return { ok: false, exitCode: 0, text: spec.usage };
  const usageError = (problem: string): CommandLine<O> => ({ ok: false, exitCode: 2, text: `error: ${problem}\n\n${spec.usage}`, problem });
  const parserOptions: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    parserOptions[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.type === 'string' && o.multiple ? { multiple: true } : {}) };
  }
  let parsed: { values: Record<string, string | boolean | Array<string | boolean> | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: parserOptions, strict: true, allowPositionals: spec.positionals !== undefined && spec.positionals !== false });
  } catch (err) {
    return usageError(parseArgsMessage(err, Object.keys(spec.options)));
  }
  const max = spec.positionals === true ? Infinity : typeof spec.positionals === 'number' ? spec.positionals : 0;
  if (parsed.positionals.length > max) return usageError(`unexpected argument${parsed.positionals.length - max > 1 ? 's' : ''} ${parsed.positionals.slice(max).map((p) => JSON.stringify(p)).join(' ')}`);
  const values: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const raw = parsed.values[name];
    if (o.type === 'boolean') {
      values[name] = raw === true;
      continue;
    }
    const given = raw as string | string[] | undefined;
    const givenList = given === undefined ? (o.default === undefined ? undefined : [o.default]) : Array.isArray(given) ? given : [given];
    const list = o.list ? givenList?.flatMap((v) => v.split(',').map((x) => x.trim()).filter(Boolean)) : givenList;
    if (list === undefined) {
      values[name] = undefined;
      continue;
    }
    const out: Array<string | number> = [];
    for (const v of list) {
      if (o.choices && !o.choices.includes(v)) return usageError(`--${name} must be one of ${o.choices.join(', ')} (got ${JSON.stringify(v)})`);
      if (o.int) {
        const min = o.int.min ?? Number.MIN_SAFE_INTEGER;
        const max = o.int.max ?? Number.MAX_SAFE_INTEGER;
        const n = /^-?\d+$/.test(v) ? Number(v) : NaN;
        if (!Number.isSafeInteger(n) || n < min || n > max) {
          const range = o.int.max === undefined ? (o.int.min === undefined ? '' : ` >= ${min}`) : ` in ${min}..${max}`;
          return usageError(`--${name} must be an integer${range} (got ${JSON.stringify(v)})`);
        }
        out.push(n);
      } else out.push(v);
    }
    values[name] = o.multiple || o.list ? out : out[0];
  }
  return { ok: true, values: values as CliValues<O>, positionals: parsed.positionals };
}

/** parseArgs' own messages, shortened ("Unknown option '--bogus'. To specify a positional argument..."). */
function parseArgsMessage(err: unknown, names: string[]): string {
  // Not `instanceof Error`: under Jest node's errors come from another realm.
  const message = String((err as { message?: unknown }).message ?? err);
  const code = (err as { code?: string }).code;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /^Unknown option '([^']+)'/.exec(message)?.[1] ?? message;
    const near = flag.startsWith('--') ? closestMatch(flag.slice(2).split('=')[0] ?? '', names) : undefined;
    return `unknown flag ${flag}${near ? ` (did you mean --${near}?)` : ''}`;
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return message.replace(/^Unexpected argument '([^']+)'.*$/s, 'unexpected argument "$1"');
  return message.replace(/^Option '([^']+)'/, '$1').replace(/ <value> argument missing$/, ' needs a value');
}
