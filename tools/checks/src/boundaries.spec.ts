import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..', '..');

function lintExisting(relFile: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/eslint/bin/eslint.js'), '--max-warnings=0', join(ROOT, relFile)], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false' } });
  return { status: r.status, output: r.stdout + r.stderr };
}

function lint(relFile: string, source: string): { status: number | null; output: string } {
  const file = join(ROOT, relFile);
  if (existsSync(file)) throw new Error(`${relFile} exists: a probe must be a new file`);
  writeFileSync(file, source);
  try {
    return lintExisting(relFile);
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

  it('lint should fail when app code imports the Kafka client instead of libs/kafka', () => {
    const r = lint('apps/producer/src/zz-boundary-probe.ts', "import { KafkaConsumer } from '@confluentinc/kafka-javascript';\nexport const probe = KafkaConsumer;\n");
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/no-restricted-imports/);
    expect(r.output).toMatch(/Only libs\/kafka talks to the Kafka client/);
  });

  it('lint should fail when libs/schemas imports the Kafka client (only the registry client is its own)', () => {
    const bad = lint('libs/schemas/src/zz-boundary-probe.ts', "import { Producer } from '@confluentinc/kafka-javascript';\nexport const probe = Producer;\n");
    expect(bad.status).toBe(1);
    expect(bad.output).toMatch(/Only libs\/kafka talks to the Kafka client/);
    const ok = lint('libs/schemas/src/zz-boundary-probe.ts', "import { SchemaRegistryClient } from '@confluentinc/schemaregistry';\nexport const probe = SchemaRegistryClient;\n");
    expect(ok.output).toBe('');
    expect(ok.status).toBe(0);
  });

  it('lint should fail when a file other than the persister store files imports pg', () => {
    for (const file of ['apps/dedup-persister/src/zz-boundary-probe.ts', 'libs/kafka/src/zz-boundary-probe.ts', 'tools/zz-boundary-probe.mjs']) {
      const r = lint(file, "import pg from 'pg';\nexport const probe = pg;\n");
      expect({ file, status: r.status }).toEqual({ file, status: 1 });
      expect(r.output).toMatch(/Only the persister's store files/);
    }
  });

  it('lint should pass for the persister store files importing pg and for specs importing the Kafka client', () => {
    for (const file of ['apps/dedup-persister/src/store.ts', 'apps/dedup-persister/src/db.ts']) {
      const r = lintExisting(file);
      expect({ file, output: r.output, status: r.status }).toEqual({ file, output: '', status: 0 });
    }
    const spec = lint('apps/producer/src/zz-boundary-probe.spec.ts', "import { KafkaConsumer } from '@confluentinc/kafka-javascript';\nimport pg from 'pg';\nit('probe', () => expect([KafkaConsumer, pg]).toHaveLength(2));\n");
    expect(spec.output).toBe('');
    expect(spec.status).toBe(0);
  });

  it('lint should pass for an app importing a lib through its public entry', () => {
    const r = lint('apps/producer/src/zz-boundary-probe.ts', "import { changeKey } from '@wikimonitor/domain';\nexport const probe = changeKey;\n");
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });
});
