import { parseCommandLine } from '@wikimonitor/service-kit';
import { CHAOS_OPTIONS, USAGE } from './cli';

// The parse main() does first, before it builds or starts anything (main itself is not called here:
// were the parsing to break, it would run the suite).
const parse = (argv: string[]) => parseCommandLine({ usage: USAGE, options: CHAOS_OPTIONS }, argv);

describe('chaos suite command line', () => {
  it.each([
    [['--scenario', 'kill-producer'], /^error: unknown flag --scenario \(did you mean --scenarios\?\)$/m],
    [['--scenarios', 'kill-producr'], /^error: --scenarios must be one of .*kill-producer.* \(got "kill-producr"\)$/m],
    [['--events', '0'], /--events must be an integer >= 1 \(got "0"\)/],
    [['--ci', 'extra'], /unexpected argument "extra"/],
  ])('the chaos command line should refuse %j with exit code 2 and the usage', (argv, message) => {
    const r = parse(argv);
    expect(r).toMatchObject({ ok: false, exitCode: 2 });
    expect(!r.ok && r.text).toMatch(message);
    expect(!r.ok && r.text).toContain('Usage: node --import tsx e2e/src/chaos-run.ts');
  });

  it('the chaos command line should read the scenario list and numbers', () => {
    const r = parse(['--scenarios', 'kill-producer,sse-stall', '--events', '100', '--no-build', '--no-out']);
    expect(r.ok && r.values).toMatchObject({ scenarios: ['kill-producer', 'sse-stall'], events: 100, 'no-build': true, 'no-out': true, ci: false });
  });
});
