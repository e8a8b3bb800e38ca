import { describeError } from './errors';

/**
 * An app's entry point: prints `help` for `--help`/`-h`, otherwise runs `start`, which returns the
 * service's exit code. A start-up failure (bad configuration, a dependency that never answered) is
 * printed as one fatal JSON line naming the service and its error code, and gives exit code 1.
 * Resolves to the exit code; only `main.ts` turns it into `process.exit`.
 */
export async function runMain(service: string, help: string, start: () => Promise<number>, argv: readonly string[] = process.argv): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(help);
    return 0;
  }
  try {
    return await start();
  } catch (err) {
    const e = describeError(err);
    console.error(JSON.stringify({ level: 'fatal', service, code: e.code, msg: e.message }));
    return 1;
  }
}
