import { killAllAppProcesses, startTsProcess } from '@wikimonitor/testing';

afterAll(() => killAllAppProcesses());

describe('sse-source main', () => {
  it('main should refuse an unknown flag with exit code 2 and the help, without starting', async () => {
    const proc = startTsProcess('sse-source-bogus-flag', 'apps/sse-source/src/main.ts', {}, ['--bogus']);
    expect(await proc.exited()).toBe(2);
    expect(proc.output()).toContain('sse-source: error: unknown flag --bogus');
    expect(proc.output()).toContain('Usage: node dist/apps/sse-source/main.js');
  });

  it('main should name a misspelt variable in a warning and print each configuration problem on its own line', async () => {
    const proc = startTsProcess('sse-source-bad-env', 'apps/sse-source/src/main.ts', { SSE_SOURCE_RAT: '5', SSE_SOURCE_PORT: 'eighty', SSE_SOURCE_FAULT: 'boom' });
    expect(await proc.exited()).toBe(1);
    const out = proc.output();
    expect(out).toContain('warning: SSE_SOURCE_RAT is not a setting of sse-source; did you mean SSE_SOURCE_RATE?');
    expect(out).toMatch(/^sse-source: invalid configuration \(CONFIG_INVALID\)$/m);
    expect(out).toMatch(/^ {2}SSE_SOURCE_PORT: must be a port number \(got "eighty"\)$/m);
    expect(out).toMatch(/^ {2}SSE_SOURCE_FAULT: .*\(got "boom"\)$/m);
  });
});
