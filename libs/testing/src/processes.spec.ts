import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { join, relative } from 'node:path';
import { freePort, killAllAppProcesses, scrapeMetric, startTsProcess } from './processes';
import { uniqueName } from './names';
import { REPO_ROOT } from './recorded';

const dir = join(REPO_ROOT, 'tmp', uniqueName('processes-spec'));

/** A throw-away TypeScript entry point under tmp/ (the launcher resolves entries from the repo root). */
function entry(name: string, source: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, source);
  return relative(REPO_ROOT, file);
}

afterAll(() => {
  killAllAppProcesses();
  rmSync(dir, { recursive: true, force: true });
});

describe('startTsProcess', () => {
  it('startTsProcess should run a TypeScript entry with the given env and args and report its exit code', async () => {
    const file = entry('echo.ts', "const v: string = process.env['PROBE_VALUE'] ?? 'none';\nconsole.log(`value=${v} args=${process.argv.slice(2).join(',')}`);\nprocess.exitCode = 3;\n");
    const proc = startTsProcess('echo-probe', file, { PROBE_VALUE: 'forty-two' }, ['a', 'b']);
    expect(await proc.exited()).toBe(3);
    expect(proc.output()).toContain('value=forty-two args=a,b');
  });

  it('killAllAppProcesses should kill a process the launcher started and count it', async () => {
    const proc = startTsProcess('sleep-probe', entry('sleep.ts', 'setInterval(() => undefined, 1000);\n'), {});
    await new Promise<void>((resolve) => proc.child.once('spawn', () => resolve()));
    expect(killAllAppProcesses()).toBeGreaterThanOrEqual(1);
    await proc.exited();
    expect(proc.child.signalCode).toBe('SIGKILL');
  });
});

describe('scrapeMetric', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    const port = await freePort();
    server = createServer((_req, res) => {
      res.end(['# HELP x_total x', 'x_total{route="a"} 2', 'x_total{route="b"} 5', 'x_total_other 100', 'y 7', ''].join('\n'));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each([
    ['x_total', undefined, 7],
    ['x_total', 'route="b"', 5],
    ['y', undefined, 7],
    ['absent_metric', undefined, 0],
  ])('scrapeMetric should sum %s (filter %s) to %d', async (name, filter, expected) => {
    expect(await scrapeMetric(url, name, filter)).toBe(expected);
  });

  it('scrapeMetric should return NaN when nothing answers', async () => {
    expect(await scrapeMetric(`http://127.0.0.1:${await freePort()}`, 'x_total')).toBeNaN();
  });
});
