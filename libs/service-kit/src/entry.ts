import { type CliOptions, type CliValues, type CommandLineSpec, parseCommandLine } from './command-line';
import { WikiMonitorError, describeError } from './errors';

export interface MainIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const consoleIo: MainIo = { out: (t) => console.log(t), err: (t) => console.error(t) };

/**
 * How a start-up failure is shown: one structured fatal JSON line (for log collectors: `msg` as it always
 * was, and a config error's `problems` as an array too) and the same for a person, one problem per line, e.g.
 * `producer: invalid configuration` then `  KAFKA_BOOTSTRAP_SERVERS: required (missing)`.
 */
export function formatStartupError(service: string, err: unknown): { json: string; text: string } {
  const e = describeError(err);
  const problems = err instanceof WikiMonitorError && Array.isArray(err.details?.['problems']) ? (err.details['problems'] as unknown[]).map(String) : undefined;
  if (!problems) return { json: JSON.stringify({ level: 'fatal', service, code: e.code, msg: e.message }), text: `${service}: ${e.message}` };
  const headline = e.message.split('\n')[0]?.replace(/:$/, '') ?? e.message;
  return {
    json: JSON.stringify({ level: 'fatal', service, code: e.code, msg: e.message, problems }),
    text: [`${service}: ${headline} (${e.code})`, ...problems.map((p) => `  ${p}`)].join('\n'),
  };
}

/**
 * An app's entry point. The command line is parsed strictly ({@link parseCommandLine}; apps configured
 * only by environment variables pass no options): `--help`/`-h` prints the usage (exit 0), an unknown
 * flag or bad value prints the problem and the usage (exit 2), otherwise `start` runs with the parsed
 * values and returns the service's exit code. A start-up failure (bad configuration, a dependency that
 * never answered) is printed as one fatal JSON line naming the service and its error code, followed by
 * the same in readable lines, and gives exit code 1. Resolves to the exit code; only `main.ts` turns
 * it into `process.exit`.
 */
export async function runMain<const O extends CliOptions = Record<never, never>>(
  service: string,
  help: string | CommandLineSpec<O>,
  start: (args: { values: CliValues<O>; positionals: string[] }) => Promise<number>,
  argv: readonly string[] = process.argv,
  io: MainIo = consoleIo,
): Promise<number> {
  const spec = (typeof help === 'string' ? { usage: help, options: {} } : help) as CommandLineSpec<O>;
  const cli = parseCommandLine(spec, argv.slice(2));
  if (!cli.ok) {
    (cli.exitCode === 0 ? io.out : io.err)(cli.exitCode === 0 ? cli.text : `${service}: ${cli.text}`);
    return cli.exitCode;
  }
  try {
    return await start({ values: cli.values, positionals: cli.positionals });
  } catch (err) {
    const shown = formatStartupError(service, err);
    io.err(shown.json);
    io.err(shown.text);
    return 1;
  }
}
