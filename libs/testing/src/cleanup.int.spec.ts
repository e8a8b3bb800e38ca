import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConsumerRunner, createGroupAdmin, createProducer, provisionTopics } from '@wikimonitor/kafka';
import { createLogger } from '@wikimonitor/service-kit';
import { deleteTestResources, namesCreatedByTests } from './cleanup';
import { getTestEnv, testConnection } from './env';
import { uniqueName, waitFor } from './names';
import { REPO_ROOT } from './recorded';
import { readTestRegistry } from './test-registry';

const log = createLogger('test', 'silent');

async function listed(bootstrapServers: string): Promise<{ topics: string[]; groups: string[] }> {
  const admin = await createGroupAdmin({ connection: { bootstrapServers, clientId: 'cleanup-spec', securityProtocol: 'plaintext', connectAttempts: 3 }, timeoutMs: 10_000, isolation: 'read_uncommitted' });
  try {
    return { topics: await admin.admin.listTopics(), groups: (await admin.listGroups()).map((g) => g.groupId) };
  } finally {
    await admin.close();
  }
}

describe('test cleanup (topics and groups the tests created)', () => {
  it('namesCreatedByTests should pick the names containing a registered unique name, and nothing else', () => {
    expect(namesCreatedByTests(['it.a-x1-ab.in', 'it.a-x1-ab-group', 'aggregator', 'it.a-x2-cd.in', 'wiki.changes.all'], ['it.a-x1-ab'])).toEqual(['it.a-x1-ab.in', 'it.a-x1-ab-group']);
    expect(namesCreatedByTests(['aggregator'], [])).toEqual([]);
  });

  it('uniqueName should register its names in the run registry (jest.preset.js globalSetup names it)', () => {
    const dir = process.env['WM_TEST_NAMES_DIR'];
    expect(dir).toBeTruthy();
    const n = uniqueName('it.testing.registered');
    expect(readTestRegistry(dir as string).names).toContain(n);
  });

  it('deleteTestResources should delete the tests\' topics and empty groups, and leave a group with members, saying why', async () => {
    const env = await getTestEnv();
    const conn = testConnection(env);
    const prefix = uniqueName('it.testing.cleanup');
    const topic = `${prefix}.in`;
    await provisionTopics(conn, [{ topic, partitions: 1, replicationFactor: 1 }]);
    const producer = createProducer({ connection: conn, log });
    await producer.start();
    await producer.send({ topic, key: 'k', value: Buffer.from('v') });
    await producer.close();
    const consume = (groupId: string) => createConsumerRunner({ connection: conn, log, groupId, topics: [topic], offsets: 'kafka', handle: async () => undefined });
    const stopped = consume(`${prefix}-stopped`);
    const active = consume(`${prefix}-active`);
    await stopped.start();
    await active.start();
    try {
      // Both groups must exist (their members joined) before the cleanup runs: the active one is what it must leave.
      await waitFor(async () => {
        const { groups } = await listed(env.bootstrapServers);
        return groups.includes(`${prefix}-stopped`) && groups.includes(`${prefix}-active`);
      }, 'the groups listed');
      await stopped.close();
      const s = await deleteTestResources(env.bootstrapServers, [prefix], { groupWaitMs: 0 });
      expect(s.error).toBeUndefined();
      expect(s.topicsDeleted).toEqual([topic]);
      expect(s.groupsDeleted).toEqual([`${prefix}-stopped`]);
      expect(s.groupsLeft).toEqual([{ groupId: `${prefix}-active`, reason: expect.stringMatching(/not.?empty/i) }]);
      const after = await listed(env.bootstrapServers);
      expect(after.groups).toContain(`${prefix}-active`);
      expect(after.groups).not.toContain(`${prefix}-stopped`);
      await waitFor(async () => !(await listed(env.bootstrapServers)).topics.includes(topic), 'the topic gone');
    } finally {
      await active.close();
    }
    // Once its member left, the group goes too; deleting what is gone already is no error.
    const again = await deleteTestResources(env.bootstrapServers, [prefix]);
    expect(again).toMatchObject({ groupsDeleted: [`${prefix}-active`], groupsLeft: [], topicsDeleted: [] });
    expect(again.error).toBeUndefined();
  });

  it('a jest run should delete, when it ends, the topics and groups its tests created with uniqueName', async () => {
    const env = await getTestEnv();
    const dir = join(REPO_ROOT, 'tmp', uniqueName('cleanup-spec'));
    mkdirSync(dir, { recursive: true });
    const namesFile = join(dir, 'names.json');
    try {
      writeFileSync(
        join(dir, 'creates-topics.spec.ts'),
        [
          "import { writeFileSync } from 'node:fs';",
          "import { createConsumerRunner, createProducer, provisionTopics } from '@wikimonitor/kafka';",
          "import { createLogger } from '@wikimonitor/service-kit';",
          "import { getTestEnv, testConnection, uniqueName, waitFor } from '@wikimonitor/testing';",
          "it('creates a topic and a group and stops its consumer', async () => {",
          '  const conn = testConnection(await getTestEnv());',
          "  const log = createLogger('t', 'silent');",
          "  const prefix = uniqueName('it.testing.run');",
          "  const topic = `${prefix}.in`, groupId = `${prefix}-group`;",
          '  await provisionTopics(conn, [{ topic, partitions: 2, replicationFactor: 1 }]);',
          '  const p = createProducer({ connection: conn, log }); await p.start(); await p.send({ topic, key: "k", value: Buffer.from("v") }); await p.close();',
          '  let n = 0;',
          "  const c = createConsumerRunner({ connection: conn, log, groupId, topics: [topic], offsets: 'kafka', handle: async (b) => void (n += b.length) });",
          '  await c.start(); await waitFor(() => n > 0, "the record"); await c.close();',
          `  writeFileSync(${JSON.stringify(namesFile)}, JSON.stringify({ topic, groupId }));`,
          '});',
          '',
        ].join('\n'),
      );
      const run = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), '--config', join(REPO_ROOT, 'jest.preset.js'), '--rootDir', dir, '--ci'], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 110_000,
        env: { ...process.env, KAFKA_BOOTSTRAP_SERVERS: env.bootstrapServers, SCHEMA_REGISTRY_URL: env.registryUrl },
      });
      if (run.status !== 0) console.log(run.stdout, run.stderr);
      expect(run.status).toBe(0);
      const { topic, groupId } = JSON.parse(readFileSync(namesFile, 'utf8')) as { topic: string; groupId: string };
      expect(run.stderr).toMatch(new RegExp(`test cleanup on ${env.bootstrapServers}: deleted 1 topic\\(s\\) and 1 consumer group\\(s\\)`));
      const after = await listed(env.bootstrapServers);
      expect(after.groups).not.toContain(groupId);
      await waitFor(async () => !(await listed(env.bootstrapServers)).topics.includes(topic), 'the topic gone');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
