// The command line of the workspace's .mjs scripts (tools/*): node:util parseArgs in strict mode.
// The TypeScript entry points use libs/service-kit's parseCommandLine, which these scripts cannot
// import (plain node, no TypeScript loader); this is the same contract: --help/-h prints the usage
// (exit 0); an unknown flag, a missing value, a value outside `choices` or a stray argument prints
// the problem and the usage on stderr and exits 2.
import { parseArgs } from 'node:util';

/**
 * @template {import('node:util').ParseArgsConfig} T
 * @param {T & { name: string, usage: string, choices?: Record<string, readonly string[]>, numbers?: string[], maxPositionals?: number }} spec
 *   parseArgs' config (strict is forced on) plus the script's name and usage, the allowed values of
 *   string options, those that must be non-negative numbers, and how many positionals it takes
 *   (default: any when allowPositionals).
 * @param {string[]} [argv]
 * @returns {ReturnType<typeof parseArgs<T>>}
 */
export function parseCommandLine(spec, argv = process.argv.slice(2)) {
  const { name, usage, choices = {}, numbers = [], maxPositionals = Infinity, ...config } = spec;
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage);
    process.exit(0);
  }
  /** @param {string} problem @returns {never} */
  const fail = (problem) => usageError(name, usage, problem);
  /** @type {ReturnType<typeof parseArgs<T>>} */
  let parsed;
  try {
    parsed = /** @type {ReturnType<typeof parseArgs<T>>} */ (parseArgs({ ...config, args: argv, strict: true }));
  } catch (err) {
    const message = String(/** @type {{ message?: unknown }} */ (err).message ?? err);
    return fail(
      message
        .replace(/^Unknown option '([^']+)'.*$/s, 'unknown flag $1')
        .replace(/^Unexpected argument '([^']+)'.*$/s, 'unexpected argument "$1"')
        .replace(/^Option '([^' ]+)(?: <value>)?' argument missing$/, '$1 needs a value')
        .replace(/^Option '([^']+)'/, '$1'),
    );
  }
  for (const [option, allowed] of Object.entries(choices)) {
    const given = /** @type {Record<string, unknown>} */ (parsed.values)[option];
    for (const v of Array.isArray(given) ? given : given === undefined ? [] : [given]) {
      if (!allowed.includes(String(v))) fail(`--${option} must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
    }
  }
  for (const option of numbers) {
    const v = /** @type {Record<string, unknown>} */ (parsed.values)[option];
    if (v !== undefined && !/^\d+(\.\d+)?$/.test(String(v))) fail(`--${option} must be a number >= 0 (got ${JSON.stringify(v)})`);
  }
  if (parsed.positionals.length > maxPositionals) fail(`unexpected argument ${JSON.stringify(parsed.positionals[maxPositionals])}`);
  return parsed;
}

/**
 * Prints the problem and the usage on stderr and exits 2 (for checks a script makes after parsing,
 * e.g. an unknown command).
 * @param {string} name
 * @param {string} usage
 * @param {string} problem
 * @returns {never}
 */
export function usageError(name, usage, problem) {
  process.stderr.write(`${name}: error: ${problem}\n\n${usage}\n`);
  process.exit(2);
}
