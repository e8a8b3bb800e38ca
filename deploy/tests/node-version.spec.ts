// One Node.js major everywhere: the images (no Docker engine is needed: the FROM lines are read, with
// their ARG defaults and stage names resolved), .nvmrc, package.json engines, CI (.ci/run -> scripts/test.sh
// -> scripts/node-env.sh's WM_NODE_MAJOR, which bootstrap installs), the pipeline scripts' guard, the
// bundles' esbuild target and @types/node. Bumping Node means changing all of them; this names the one left behind.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support';

const NODE_MAJOR = 22;
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** Every Dockerfile in the repository: the shared one plus any per-app ones. */
function dockerfiles(): string[] {
  const found = ['deploy/docker/Dockerfile'];
  for (const app of readdirSync(join(ROOT, 'apps'))) if (existsSync(join(ROOT, 'apps', app, 'Dockerfile'))) found.push(`apps/${app}/Dockerfile`);
  return found;
}

/**
 * The base image of every stage of a Dockerfile: `${ARG}`s replaced by the defaults of the ARGs
 * declared before the first FROM, and a stage built FROM an earlier stage resolved to that stage's image.
 */
function baseImages(dockerfile: string): Array<{ stage: string; image: string }> {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const args = new Map<string, string>();
  const stages = new Map<string, string>();
  const result: Array<{ stage: string; image: string }> = [];
  let seenFrom = false;
  for (const line of lines) {
    const arg = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S+))?/i.exec(line);
    if (arg && !seenFrom) args.set(String(arg[1]), (arg[2] ?? '').replace(/^["']|["']$/g, ''));
    const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!from) continue;
    seenFrom = true;
    const ref = String(from[1]).replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}?/g, (_, name: string) => args.get(name) ?? '');
    const image = stages.get(ref) ?? ref;
    const stage = from[2] ?? `#${result.length}`;
    stages.set(stage, image);
    result.push({ stage, image });
  }
  return result;
}

/** The Node.js major of an official node image reference (node:22, node:22.11-bookworm-slim, docker.io/library/node:22-alpine), else null. */
function nodeImageMajor(image: string): number | null {
  const m = /^(?:(?:docker\.io\/)?library\/)?node:(\d+)(?:[.-]|$)/.exec(image.replace(/^docker\.io\/node:/, 'node:'));
  return m ? Number(m[1]) : null;
}

describe('Node.js version', () => {
  it.each(dockerfiles())(`%s: every stage should build on a node ${NODE_MAJOR} image`, (file) => {
    const images = baseImages(read(file));
    expect(images.length).toBeGreaterThan(0);
    expect(images.map(({ stage, image }) => ({ stage, image, major: nodeImageMajor(image) }))).toEqual(
      images.map(({ stage, image }) => ({ stage, image, major: NODE_MAJOR })),
    );
  });

  it('the Dockerfile reader should see a stage left on another node, or on no node image (the check can fail)', () => {
    const text = ['ARG NODE_IMAGE=node:20-bookworm', 'FROM ${NODE_IMAGE} AS build', 'FROM build AS test', 'FROM debian:bookworm-slim AS runtime'].join('\n');
    expect(baseImages(text).map((s) => [s.stage, nodeImageMajor(s.image)])).toEqual([
      ['build', 20],
      ['test', 20],
      ['runtime', null],
    ]);
    expect(nodeImageMajor('node:22.11-bookworm-slim')).toBe(22);
    expect(nodeImageMajor('docker.io/library/node:22-alpine')).toBe(22);
    expect(nodeImageMajor('nodejs:22')).toBeNull();
  });

  it('.nvmrc should name the same major', () => {
    expect(read('.nvmrc').trim()).toMatch(new RegExp(`^v?${NODE_MAJOR}(\\.|$)`));
  });

  it('package.json engines should require that major and @types/node should describe it', () => {
    const pkg = JSON.parse(read('package.json')) as { engines?: { node?: string }; devDependencies?: Record<string, string> };
    expect(pkg.engines?.node).toBe(`>=${NODE_MAJOR}`);
    expect(pkg.devDependencies?.['@types/node']).toMatch(new RegExp(`^[\\^~]?${NODE_MAJOR}\\.`));
  });

  it('CI should install and run that major (.ci/run -> scripts/test.sh -> scripts/node-env.sh)', () => {
    expect(read('.ci/run')).toMatch(/^bash scripts\/test\.sh$/m);
    const testSh = read('scripts/test.sh');
    expect(testSh).toMatch(/^bash scripts\/bootstrap\.sh/m);
    expect(testSh).toMatch(/^source scripts\/node-env\.sh/m);
    expect(read('scripts/bootstrap.sh')).toMatch(/^source scripts\/node-env\.sh$/m);
    expect(read('scripts/node-env.sh')).toMatch(new RegExp(`^WM_NODE_MAJOR=${NODE_MAJOR}$`, 'm'));
  });

  it('the pipeline scripts and the app bundles should target that major', () => {
    expect(read('tools/pipeline/apps.mjs')).toMatch(new RegExp(`^const NODE_MAJOR = ${NODE_MAJOR};$`, 'm'));
    expect(read('tools/build/build-app.mjs')).toContain(`target: 'node${NODE_MAJOR}'`);
  });
});
