import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..', '..');

function lint(relFile: string, source: string): { status: number | null; output: string } {
  const file = join(ROOT, relFile);
  writeFileSync(file, source);
  try {
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/eslint/bin/eslint.js'), '--max-warnings=0', file], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false' } });
    return { status: r.status, output: r.stdout + r.stderr };
  } finally {
    rmSync(file, { force: true });
  }
}

// Each probe is a throw-away file inside a project; the lint run sees it as that project's code.
describe('Nx module boundaries (enforced by ESLint)', () => {
  it('lint should fail when an app imports another app', () => {
    const r = lint('apps/producer/src/zz-boundary-probe.ts', "import { createApp } from '../../filter-router/src/app';\nexport const probe = createApp;\n");
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/enforce-module-boundaries/);
  });

  it('lint should fail when domain logic imports an infra lib or a node builtin', () => {
    const r = lint('libs/domain/src/zz-boundary-probe.ts', "import { readFileSync } from 'node:fs';\nimport { createProducer } from '@wikimonitor/kafka';\nexport const probe = [readFileSync, createProducer];\n");
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/A project tagged with "type:domain" can only depend on libs tagged with "type:domain"/);
    expect(r.output).toMatch(/no I\/O: no node: builtins/);
  });

  it('lint should fail when app code (not a spec) imports the testing lib', () => {
    const r = lint('apps/aggregator/src/zz-boundary-probe.ts', "import { uniqueName } from '@wikimonitor/testing';\nexport const probe = uniqueName;\n");
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/type:app/);
  });

  it('lint should pass for an app importing a lib through its public entry', () => {
    const r = lint('apps/producer/src/zz-boundary-probe.ts', "import { changeKey } from '@wikimonitor/domain';\nexport const probe = changeKey;\n");
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });
});
