// The .mjs workspace scripts (tools/lib/cli.mjs) as real processes: strict flags, exit 2 with the usage.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..', '..');

function run(script: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, script), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Only read-only commands (status, --check): should the parsing break, nothing starts or stops.
describe('workspace scripts command lines', () => {
  it.each([
    ['tools/pipeline/pipeline.mjs', ['status', '--source', 'foo'], /^pipeline: error: --source must be one of auto, local, wikimedia \(got "foo"\)$/m],
    ['tools/pipeline/pipeline.mjs', ['--source', 'foo'], /--source must be one of auto, local, wikimedia/],
    ['tools/pipeline/pipeline.mjs', ['status', '--rate', 'fast'], /--rate must be a number >= 0 \(got "fast"\)/],
    ['tools/pipeline/pipeline.mjs', ['status', '--stak'], /^pipeline: error: unknown flag --stak$/m],
    ['tools/pipeline/pipeline.mjs', ['upp'], /unknown command "upp"/],
    ['tools/stack/stack.mjs', ['status', '--bogus'], /^stack: error: unknown flag --bogus$/m],
    ['tools/stack/stack.mjs', ['start', 'zookeeper'], /unknown service "zookeeper"/],
    ['tools/stack/stack.mjs', ['up', '--with', 'grafana'], /--with must be one of prometheus \(got "grafana"\)/],
    ['tools/stack/stack.mjs', ['status', '--with', 'prometheus'], /--with only goes with "up"/],
    ['tools/codegen/avro-types.mjs', ['--chek'], /^avro-types: error: unknown flag --chek$/m],
    ['tools/build/build-app.mjs', ['no-such-app'], /no app "no-such-app"/],
    ['tools/pipeline/serve.mjs', ['producer', '--wach'], /^serve: error: unknown flag --wach$/m],
    ['tools/pipeline/serve.mjs', ['no-such-app'], /the app must be one of/],
  ])('%s %j should exit 2 with the problem and the usage', (script, args, message) => {
    const r = run(script, args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/Usage: node tools\//);
    expect(r.stdout).toBe('');
  });

  it.each([['tools/pipeline/pipeline.mjs'], ['tools/stack/stack.mjs'], ['tools/codegen/avro-types.mjs'], ['tools/build/build-app.mjs'], ['tools/pipeline/serve.mjs']])('%s --help should print the usage and exit 0', (script) => {
    const r = run(script, ['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Usage: node tools\//);
  });
});
