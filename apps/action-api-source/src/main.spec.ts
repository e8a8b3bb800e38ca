import { killAllAppProcesses, startTsProcess } from '@wikimonitor/testing';
import { parseRateFaults, parseRevidFaults } from './faults';

afterAll(() => killAllAppProcesses());

describe('action-api-source main', () => {
  it('main should print the help with --help and exit 0', async () => {
    const proc = startTsProcess('action-api-source-help', 'apps/action-api-source/src/main.ts', {}, ['--help']);
    expect(await proc.exited()).toBe(0);
    expect(proc.output()).toContain('Usage: node dist/apps/action-api-source/main.js');
  });

  it('main should refuse an unknown flag with exit code 2 and a bad fault spec with exit code 1, without starting', async () => {
    const bogus = startTsProcess('action-api-source-bogus-flag', 'apps/action-api-source/src/main.ts', {}, ['--bogus']);
    expect(await bogus.exited()).toBe(2);
    expect(bogus.output()).toContain('action-api-source: error: unknown flag --bogus');
    const bad = startTsProcess('action-api-source-bad-fault', 'apps/action-api-source/src/main.ts', {}, ['--fail', '12=boom', '--port', '0']);
    expect(await bad.exited()).toBe(1);
    expect(bad.output()).toMatch(/ACTION_API_SOURCE_FAIL: 12=boom: unknown fault "boom"/);
  });
});

describe('fault specs', () => {
  it('parseRevidFaults should read revid=fault[*times] lists and name every bad part', () => {
    expect(parseRevidFaults('1=503*2, 2=maxlag,3=read-timeout,4=badrevids,5=204,6=408,7=301')).toEqual({
      ok: true,
      value: [
        { revid: 1, fault: { kind: 'status', status: 503 }, times: 2 },
        { revid: 2, fault: { kind: 'maxlag' }, times: Infinity },
        { revid: 3, fault: { kind: 'read-timeout' }, times: Infinity },
        { revid: 4, fault: { kind: 'badrevids' }, times: Infinity },
        { revid: 5, fault: { kind: 'status', status: 204 }, times: Infinity },
        { revid: 6, fault: { kind: 'status', status: 408 }, times: Infinity },
        { revid: 7, fault: { kind: 'status', status: 301 }, times: Infinity },
      ],
    });
    const bad = parseRevidFaults('x=503,1=200,2=maxlag');
    expect(bad.ok ? [] : bad.problems).toHaveLength(2);
  });

  it('parseRateFaults should read fault=probability lists within [0, 1]', () => {
    expect(parseRateFaults('maxlag=0.1,503=1')).toEqual({ ok: true, value: [{ fault: { kind: 'maxlag' }, rate: 0.1 }, { fault: { kind: 'status', status: 503 }, rate: 1 }] });
    expect(parseRateFaults('maxlag=1.5').ok).toBe(false);
  });
});
