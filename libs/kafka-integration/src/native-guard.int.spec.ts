import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { checkDescribeGroups, createGroupAdmin, provisionTopics } from '@wikimonitor/kafka';
import { getTestEnv, testConnection, uniqueName } from '@wikimonitor/testing';

// The describeGroups crash of @confluentinc/kafka-javascript 1.10.1 (a SIGSEGV on every errored group
// description: tools/build/patch-kafka-addon.mjs). These fail on an unpatched addon.
const repro = join(__dirname, '..', '..', '..', 'tools', 'build', 'describe-groups-repro.cjs');

function runRepro(args: string[]) {
  const res = spawnSync(process.execPath, [repro, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: res.status, signal: res.signal, out: res.stdout.trim() };
}

describe('the native describeGroups crash (patched addon)', () => {
  it('describeGroups through an unreachable broker returns an error instead of killing the process', () => {
    const res = runRepro(['127.0.0.1:1']);
    expect(res.signal).toBeNull();
    expect(res.status).toBe(0);
    expect(JSON.parse(res.out).ok).toBe(true);
  });

  it('describeGroups of an invalid group id on the real broker returns the group with its error', async () => {
    const env = await getTestEnv();
    const res = runRepro([env.bootstrapServers, '']);
    expect(res.signal).toBeNull();
    expect(res.status).toBe(0);
    expect(JSON.parse(res.out)).toMatchObject({ ok: true, groupId: '' });
    expect(JSON.parse(res.out).error).toEqual(expect.any(String));
  });

  it("the guard's check finds the installed addon patched", async () => {
    await expect(checkDescribeGroups()).resolves.toMatchObject({ safe: true, outcome: 'patched' });
  });

  it('the guard sees a check that dies by a signal as a crash', async () => {
    await expect(checkDescribeGroups({ program: "process.kill(process.pid, 'SIGSEGV')" })).resolves.toMatchObject({ safe: false, outcome: 'crashes' });
  });

  it('a group admin whose describeGroups proved to crash leaves it alone and keeps answering the rest on the real broker', async () => {
    const conn = testConnection(await getTestEnv());
    const topic = uniqueName('it.kafka.native-guard');
    await provisionTopics(conn, [{ topic, partitions: 2, replicationFactor: 1 }]);
    const admin = await createGroupAdmin({
      connection: conn,
      timeoutMs: 10_000,
      isolation: 'read_committed',
      guardDescribeGroups: () => checkDescribeGroups({ program: "process.kill(process.pid, 'SIGSEGV')" }),
    });
    try {
      expect(admin.describeGroupsGuard).toMatchObject({ safe: false, outcome: 'crashes' });
      await expect(admin.describeGroups(['any-group'])).resolves.toEqual([]);
      await expect(admin.fetchPartitions([topic])).resolves.toEqual(new Map([[topic, [0, 1]]]));
    } finally {
      await admin.close();
    }
  });
});
