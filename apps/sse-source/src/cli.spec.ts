import { parseCommandLine } from '@wikimonitor/service-kit';
import { CLI_FLAGS, cliSpec, flagsToEnv, helpText } from './cli';
import { loadConfig } from './config';

/** The command line as main.ts reads it: the env keys it sets, or the exit code and text. */
function parseCliArgs(argv: string[]): { help: boolean; env: Record<string, string> } {
  const r = parseCommandLine(cliSpec(), argv);
  if (r.ok) return { help: false, env: flagsToEnv(r.values) };
  if (r.exitCode === 0) return { help: true, env: {} };
  throw new Error(r.text);
}

describe('sse-source command line', () => {
  it.each([
    [[], { help: false, env: {} }],
    [['--help'], { help: true, env: {} }],
    [['-h', '--bogus'], { help: true, env: {} }],
    [['--rate', '100', '--loop', '--port', '8092', '--data', 'path'], { help: false, env: { SSE_SOURCE_RATE: '100', SSE_SOURCE_LOOP: 'true', SSE_SOURCE_PORT: '8092', SSE_SOURCE_DATA: 'path' } }],
    [['--end=close'], { help: false, env: { SSE_SOURCE_END: 'close' } }],
    [['--loop', '--rate=5'], { help: false, env: { SSE_SOURCE_LOOP: 'true', SSE_SOURCE_RATE: '5' } }],
    [['--loop', '--time', 'original'], { help: false, env: { SSE_SOURCE_LOOP: 'true', SSE_SOURCE_TIME: 'original' } }],
    [['--time=now'], { help: false, env: { SSE_SOURCE_TIME: 'now' } }],
    [
      ['--id-mode', 'offset', '--lifetime-ms', '5000', '--datacenter', 'alternate', '--max-connections', '2', '--retention', '100'],
      { help: false, env: { SSE_SOURCE_ID_MODE: 'offset', SSE_SOURCE_LIFETIME_MS: '5000', SSE_SOURCE_DATACENTER: 'alternate', SSE_SOURCE_MAX_CONNECTIONS: '2', SSE_SOURCE_RETENTION: '100' } },
    ],
    [['--inject', 'wiki=dewiki,at=5s,count=300', '--log-level', 'debug'], { help: false, env: { SSE_SOURCE_INJECT: 'wiki=dewiki,at=5s,count=300', LOG_LEVEL: 'debug' } }],
  ])('parseCliArgs should map %j onto env keys', (argv, expected) => {
    expect(parseCliArgs(argv)).toEqual(expected);
  });

  it.each([
    [['--speed', '3'], /unknown flag --speed/],
    [['--rat', '3'], /unknown flag --rat \(did you mean --rate\?\)/],
    [['--rate', '5', 'extra'], /unexpected argument "extra"/],
    [['--rate'], /--rate needs a value/],
    [['--loop', 'false'], /unexpected argument "false"/],
  ])('the command line should refuse %j with the problem and the help', (argv, message) => {
    const r = parseCommandLine(cliSpec(), argv);
    expect(r).toMatchObject({ ok: false, exitCode: 2 });
    expect(!r.ok && r.text).toMatch(message);
    expect(!r.ok && r.text).toContain('Usage: node dist/apps/sse-source/main.js');
  });

  it('parseCliArgs should produce keys the config schema understands', () => {
    const { env } = parseCliArgs(['--rate', '100', '--loop-count', '2', '--fault', 'drop', '--fault-every', '7', '--status', '503', '--canary-every', '10', '--time', 'now']);
    const config = loadConfig(env, {});
    expect(config.stream).toMatchObject({ rate: 100, passes: 2, fault: { kind: 'drop', every: 7 }, status: { status: 503, times: 1 }, canaryEvery: 10, time: 'now' });
  });
});

describe('helpText', () => {
  it('helpText should list every flag with its environment variable', () => {
    const text = helpText();
    for (const f of CLI_FLAGS) {
      expect(text).toContain(`--${f.flag}`);
      expect(text).toContain(f.env);
    }
    expect(text).toContain('/v2/stream/recentchange');
  });
});
