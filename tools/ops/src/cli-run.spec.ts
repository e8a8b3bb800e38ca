import { EXIT, HELP, parseReplayArgs, parseResetArgs, runCli } from './cli-run';
import type { OpsContext } from './ops';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
}
const noCtx = (): OpsContext => {
  throw new Error('no broker in unit tests');
};

describe('ops CLI arguments', () => {
  it.each([
    [['--group', 'g', '--to-earliest'], { group: 'g', topics: [], target: { kind: 'earliest' }, execute: false }],
    [['--group', 'g', '--to-earliest', '--execute'], { group: 'g', target: { kind: 'earliest' }, execute: true }],
    [['--group', 'g', '--topic', 'a', '--topic', 'b', '--to-latest', '--dry-run'], { topics: ['a', 'b'], target: { kind: 'latest' }, execute: false }],
    [['--group', 'g', '--to-offset', '42', '--partitions', '0, 2'], { target: { kind: 'offset', offset: 42 }, partitions: [0, 2] }],
    [['--group', 'g', '--to-datetime', '2026-11-21T10:00:00Z'], { target: { kind: 'timestamp', timestamp: Date.parse('2026-11-21T10:00:00Z') } }],
    [['--group', 'g', '--to-datetime', '1700000000000'], { target: { kind: 'timestamp', timestamp: 1_700_000_000_000 } }],
    [['--group', 'g', '--shift-by=-100'], { target: { kind: 'shift', by: -100 } }],
  ])('parseResetArgs should read %j', (args, expected) => {
    expect(parseResetArgs(args)).toMatchObject(expected);
  });

  it.each([
    [['--to-earliest'], /--group is required/],
    [['--group', 'g'], /exactly one of/],
    [['--group', 'g', '--to-earliest', '--to-latest'], /exactly one of/],
    [['--group', 'g', '--to-offset', 'ten'], /not an integer/],
    [['--group', 'g', '--to-datetime', 'yesterday'], /not an ISO-8601 time/],
    [['--group', 'g', '--to-earliest', '--bogus'], /unknown flag --bogus/],
    [['--group', 'g', '--to-earliest', '--dryrun'], /unknown flag --dryrun \(did you mean --dry-run\?\)/],
    [['--group', 'g', '--to-earliest', '--exectue'], /unknown flag --exectue \(did you mean --execute\?\)/],
    [['--group', 'g', '--to-earliest', '--execute', '--dry-run'], /--execute and --dry-run contradict each other/],
  ])('parseResetArgs should reject %j', (args, message) => {
    expect(() => parseResetArgs(args)).toThrow(message);
  });

  it('parseReplayArgs should default the dead-letter topic and read the filters', () => {
    expect(parseReplayArgs(['--source-topic', 'wiki.raw.changes', '--limit', '5', '--dry-run'], 'wiki.dlq')).toMatchObject({ dlqTopic: 'wiki.dlq', sourceTopic: 'wiki.raw.changes', limit: 5, dryRun: true });
    expect(() => parseReplayArgs(['--limit', '0'], 'wiki.dlq')).toThrow(/at least 1/);
    expect(parseReplayArgs(['--app', 'producer'], 'wiki.dlq', 'wiki.raw.changes')).toMatchObject({ app: 'producer', rawTopic: 'wiki.raw.changes' });
    expect(parseReplayArgs(['--raw-topic', 'other.raw'], 'wiki.dlq', 'wiki.raw.changes').rawTopic).toBe('other.raw');
    expect(parseReplayArgs([], 'wiki.dlq').force).toBe(false);
    expect(parseReplayArgs(['--force'], 'wiki.dlq').force).toBe(true);
  });

  it.each([
    [['--help'], EXIT.ok],
    [[], EXIT.ok],
    [['reset-offsets', '--help'], EXIT.ok],
  ])('runCli should print the help for %j', async (argv, code) => {
    const t = io();
    expect(await runCli(argv, t.io, noCtx, { dlqTopic: 'wiki.dlq' })).toBe(code);
    expect(t.out.join('\n')).toBe(HELP);
  });

  it('runCli should answer an unknown command and bad options with a usage error, without touching Kafka', async () => {
    const a = io();
    expect(await runCli(['frobnicate'], a.io, noCtx, { dlqTopic: 'wiki.dlq' })).toBe(EXIT.usage);
    expect(a.err[0]).toMatch(/unknown command: frobnicate/);
    const b = io();
    expect(await runCli(['reset-offsets', '--group', 'g'], b.io, noCtx, { dlqTopic: 'wiki.dlq' })).toBe(EXIT.usage);
    expect(b.err.join('\n')).toMatch(/exactly one of[\s\S]*--help/);
  });

  it.each([
    [['describe-groups', 'aggregator', '--bogus'], /^error: unknown flag --bogus$/m],
    [['describe-topics', '--jsn'], /^error: unknown flag --jsn \(did you mean --json\?\)$/m],
    [['replay-dlq', '--app', 'producer', 'stray'], /^error: unexpected argument "stray"$/m],
  ])('runCli should refuse %j with exit code 2 and the usage, without touching Kafka', async (argv, message) => {
    const t = io();
    expect(await runCli(argv, t.io, noCtx, { dlqTopic: 'wiki.dlq' })).toBe(EXIT.usage);
    expect(t.err.join('\n')).toMatch(message);
    expect(t.err.join('\n')).toContain(HELP);
  });
});
