// Tests delete the Kafka topics and consumer groups they create, so the stack a developer keeps
// (and shares between runs) is not polluted: every name uniqueName() hands out is written to a
// registry of the jest run (one file per process, in the folder jest.preset.js's globalSetup names),
// and the run's globalTeardown deletes every topic and group on the test broker whose name contains
// one of them (tests derive names from a unique prefix: `${prefix}.in`, `${prefix}-group`).
// It runs once every test file is done, so the apps the tests started have stopped and their groups
// are empty; a group still not empty (a killed process whose session has not expired) or already
// gone is logged and left.
//
// Imports only node builtins and the Kafka client: jest loads globalSetup/globalTeardown without the
// workspace's path aliases.
import { rmSync } from 'node:fs';
import { KafkaJS } from '@confluentinc/kafka-javascript';
import { KEEP_TEST_RESOURCES_VAR, readTestRegistry } from './test-registry';

/** The broker's names that a test created: those containing a registered unique name. */
export function namesCreatedByTests<T extends string>(existing: readonly T[], registered: readonly string[]): T[] {
  return existing.filter((e) => registered.some((n) => e.includes(n)));
}

export interface CleanupSummary {
  broker: string;
  topicsDeleted: string[];
  groupsDeleted: string[];
  /** Groups left: still with members (a killed process whose session has not expired) or another error. */
  groupsLeft: Array<{ groupId: string; reason: string }>;
  error?: string;
}

interface GroupReport {
  groupId: string;
  error?: { message?: string; code?: number } | null;
}

/** Deletes, on one broker, the topics and consumer groups whose names contain one of `names`. */
export async function deleteTestResources(bootstrapServers: string, names: readonly string[], opts: { timeoutMs?: number; groupWaitMs?: number } = {}): Promise<CleanupSummary> {
  const timeout = opts.timeoutMs ?? 10_000;
  const summary: CleanupSummary = { broker: bootstrapServers, topicsDeleted: [], groupsDeleted: [], groupsLeft: [] };
  if (!names.length) return summary;
  const admin = new KafkaJS.Kafka({ kafkaJS: { brokers: bootstrapServers.split(','), logLevel: KafkaJS.logLevel.NOTHING, connectionTimeout: timeout } }).admin();
  try {
    await admin.connect();
    // Groups first: they can be deleted once empty; topics take their committed offsets with them anyway.
    let pending = namesCreatedByTests((await admin.listGroups({ timeout })).groups.map((g) => g.groupId), names);
    const deadline = Date.now() + (opts.groupWaitMs ?? 5_000);
    for (;;) {
      const left: Array<{ groupId: string; reason: string }> = [];
      if (pending.length) {
        let reports: GroupReport[];
        try {
          reports = (await admin.deleteGroups(pending, { timeout })) as GroupReport[];
        } catch (err) {
          reports = ((err as { groups?: GroupReport[] }).groups ?? pending.map((groupId) => ({ groupId, error: { message: (err as Error).message } }))) as GroupReport[];
        }
        for (const r of reports) {
          const reason = r.error?.message;
          if (!reason) summary.groupsDeleted.push(r.groupId);
          else if (/not.?found|does not exist|GROUP_ID_NOT_FOUND/i.test(reason)) continue; // gone already
          else left.push({ groupId: r.groupId, reason });
        }
      }
      const notEmpty = left.filter((l) => /not.?empty/i.test(l.reason));
      if (!notEmpty.length || Date.now() >= deadline) {
        summary.groupsLeft = left;
        break;
      }
      summary.groupsLeft = left.filter((l) => !notEmpty.includes(l));
      pending = notEmpty.map((l) => l.groupId);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const topics = namesCreatedByTests(await admin.listTopics({ timeout }), names);
    // In slices: one request for hundreds of topics can outlast its timeout.
    for (let i = 0; i < topics.length; i += 100) {
      const slice = topics.slice(i, i + 100);
      await admin.deleteTopics({ topics: slice, timeout });
      summary.topicsDeleted.push(...slice);
    }
  } catch (err) {
    summary.error = (err as Error).message;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  return summary;
}

/** The globalTeardown's work: delete what the run's tests registered, report it in one line per broker, remove the registry. */
export async function cleanUpTestRun(dir: string, log: (line: string) => void = (l) => console.warn(l)): Promise<CleanupSummary[]> {
  const { names, brokers } = readTestRegistry(dir);
  const out: CleanupSummary[] = [];
  if (process.env[KEEP_TEST_RESOURCES_VAR] === 'true') {
    // The registry stays too, to clean up by hand later (cleanUpTestRun(dir) without the variable).
    if (names.length) log(`test cleanup: ${KEEP_TEST_RESOURCES_VAR}=true, kept the topics and groups of ${names.length} test name(s) (registry ${dir})`);
    return out;
  }
  if (names.length) {
    for (const broker of brokers) {
      const s = await deleteTestResources(broker, names);
      out.push(s);
      if (!s.topicsDeleted.length && !s.groupsDeleted.length && !s.groupsLeft.length && !s.error) continue;
      const left = s.groupsLeft.length ? `; ${s.groupsLeft.length} group(s) left: ${s.groupsLeft.map((g) => `${g.groupId} (${g.reason})`).join(', ')}` : '';
      log(`test cleanup on ${broker}: deleted ${s.topicsDeleted.length} topic(s) and ${s.groupsDeleted.length} consumer group(s) the tests created${left}${s.error ? `; failed: ${s.error}` : ''}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return out;
}
