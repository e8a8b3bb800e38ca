import { parseCommandLine } from './command-line';
import { closestMatch, editDistance } from './suggest';

const spec = {
  usage: 'Usage: tool [--source auto|local|wikimedia] [--rate N] [--dry-run] <file>',
  options: {
    source: { type: 'string', choices: ['auto', 'local', 'wikimedia'], default: 'auto' },
    rate: { type: 'string', int: { min: 1 } },
    scenarios: { type: 'string', list: true, choices: ['kill-producer', 'sse-stall'] },
    sizes: { type: 'string', list: true, int: { min: 1 }, default: '100,500' },
    'dry-run': { type: 'boolean' },
  },
  positionals: 1,
} as const;

describe('parseCommandLine', () => {
  it('parseCommandLine should read flags, apply defaults and convert integers', () => {
    const r = parseCommandLine(spec, ['--rate', '50', '--dry-run', '--scenarios=sse-stall', 'a.json']);
    expect(r).toEqual({ ok: true, values: { source: 'auto', rate: 50, scenarios: ['sse-stall'], sizes: [100, 500], 'dry-run': true }, positionals: ['a.json'] });
    const none = parseCommandLine(spec, []);
    expect(none.ok && none.values).toEqual({ source: 'auto', rate: undefined, scenarios: undefined, sizes: [100, 500], 'dry-run': false });
    const lists = parseCommandLine(spec, ['--scenarios', 'kill-producer, sse-stall', '--sizes=7']);
    expect(lists.ok && [lists.values.scenarios, lists.values.sizes]).toEqual([['kill-producer', 'sse-stall'], [7]]);
  });

  it.each([
    [['--bogus'], /^error: unknown flag --bogus\n\nUsage: tool/],
    [['--scenario', 'kill-producer'], /unknown flag --scenario \(did you mean --scenarios\?\)/],
    [['--source', 'foo'], /--source must be one of auto, local, wikimedia \(got "foo"\)/],
    [['--scenarios', 'sse-stall,kill-producr'], /--scenarios must be one of kill-producer, sse-stall \(got "kill-producr"\)/],
    [['--sizes', '100,x'], /--sizes must be an integer >= 1 \(got "x"\)/],
    [['--rate', 'fast'], /--rate must be an integer >= 1 \(got "fast"\)/],
    [['--rate', '0'], /--rate must be an integer >= 1/],
    [['--rate'], /--rate needs a value/],
    [['--dry-run=yes'], /--dry-run does not take an argument/],
    [['a', 'b'], /unexpected argument "b"/],
  ])('parseCommandLine should answer %j with exit code 2, the problem and the usage', (argv, message) => {
    const r = parseCommandLine(spec, argv);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.exitCode).toBe(2);
    expect(r.text).toMatch(message);
    expect(r.text).toContain(spec.usage);
  });

  it('parseCommandLine should refuse positionals when the spec allows none', () => {
    const r = parseCommandLine({ usage: 'u', options: {} }, ['extra']);
    expect(r).toEqual({ ok: false, exitCode: 2, text: 'error: unexpected argument "extra"\n\nu', problem: 'unexpected argument "extra"' });
  });

  it.each([[['--help']], [['-h']], [['--bogus', '--help']]])('parseCommandLine should answer %j with the usage and exit code 0', (argv) => {
    expect(parseCommandLine(spec, argv)).toEqual({ ok: false, exitCode: 0, text: spec.usage });
  });
});

describe('closestMatch', () => {
  it.each([
    ['KAFKA_BOOTSTRAP_SERVER', 'KAFKA_BOOTSTRAP_SERVERS'],
    ['SCHEMA_REGSITRY_URL', 'SCHEMA_REGISTRY_URL'],
    ['kafka_bootstrap_servers', 'KAFKA_BOOTSTRAP_SERVERS'],
    ['HTTP_PROXY', undefined],
    ['LOG', undefined],
  ])('closestMatch should match %s to %s', (word, expected) => {
    expect(closestMatch(word, ['KAFKA_BOOTSTRAP_SERVERS', 'SCHEMA_REGISTRY_URL', 'HTTP_PORT', 'LOG_LEVEL'])).toBe(expected);
  });

  it('editDistance should count a swap of neighbours as one edit', () => {
    expect(editDistance('REGSITRY', 'REGISTRY')).toBe(1);
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
  });
});
