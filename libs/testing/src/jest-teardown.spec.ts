import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { uniqueName } from './names';
import { REPO_ROOT } from './recorded';

const dir = join(REPO_ROOT, 'tmp', uniqueName('jest-teardown-spec'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('jest-teardown (setupFilesAfterEnv of jest.preset.js)', () => {
  it('a test file that leaves an app process running should have it killed when the file ends, so jest exits', () => {
    mkdirSync(dir, { recursive: true });
    const pidFile = join(dir, 'pid');
    writeFileSync(join(dir, 'sleep.ts'), 'setInterval(() => undefined, 1000);\n');
    // A test that starts a process and "forgets" it, as a test that timed out before its cleanup does.
    writeFileSync(
      join(dir, 'leaves-a-process.spec.ts'),
      [
        "import { writeFileSync } from 'node:fs';",
        "import { startTsProcess } from '@wikimonitor/testing';",
        "it('starts a process and never stops it', async () => {",
        `  const proc = startTsProcess('leftover', ${JSON.stringify(join('tmp', dir.split('/tmp/').pop() as string, 'sleep.ts'))}, {});`,
        "  await new Promise<void>((resolve) => proc.child.once('spawn', () => resolve()));",
        `  writeFileSync(${JSON.stringify(pidFile)}, String(proc.child.pid));`,
        '});',
        '',
      ].join('\n'),
    );
    const run = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), '--config', join(REPO_ROOT, 'jest.preset.js'), '--rootDir', dir, '--ci'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (run.status !== 0) console.log(run.stdout, run.stderr);
    expect(run.status).toBe(0); // would be null (killed by the timeout) if the leftover kept jest alive
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
    expect(run.stdout + run.stderr).toContain('jest-teardown: killed 1 app process(es)');
  });
});
