import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GroupDetailView, ResetPlanEntry } from '@wikimonitor/domain';
import { type AppName, REPO_ROOT, startBuiltApp } from '@wikimonitor/testing';
import { type ScenarioResult, DEFAULT_WORK_DIR, runScenario, summaryTable } from './chaos';
import { expectExactOutcome } from './expect-outcome';
import { deleteTopics, dropDatabase, runNames } from './pipeline';
import { selectScenarios } from './scenarios';
import { type PrivateStack, startPrivateStack } from './stack';
import { type WebhookReceiver, startWebhookReceiver } from './webhook';

// The whole pipeline on a broker whose client listener requires SASL_SSL (SCRAM-SHA-512, the stack's
// own CA) and a client certificate (mutual TLS): one private stack (stack.mjs WM_STACK_KAFKA_SECURITY=mtls)
// for the file. Every app, the suite's own clients and the ops CLI take the settings `stack.mjs env`
// prints, the secrets as *_FILE paths.
const EVENTS = 1500;
const RATE = 75;
const SEED = 20261207;
/** Far more than one failed connect (10 s); far less than KAFKA_CONNECT_ATTEMPTS=20 retried (minutes). */
const FAIL_AT_START_BOUND_MS = 90_000;
const KAFKA_APPS: AppName[] = ['producer', 'filter-router', 'aggregator', 'dedup-persister', 'lag-monitor'];

/** The ops CLI as the lag-monitor image ships it (dist/apps/lag-monitor/cli.js), one command. */
function opsCli(env: Record<string, string>, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'apps', 'lag-monitor', 'cli.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the pipeline on Kafka with SASL_SSL and mutual TLS', () => {
  let stack: PrivateStack;
  let webhook: WebhookReceiver;
  let kafkaEnv: Record<string, string>;
  const workDir = join(DEFAULT_WORK_DIR, `secure-${Date.now()}`);
  const log = (line: string) => process.stderr.write(`[secure ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  /** Every secret of the stack's client settings: none may appear in any output. */
  const secrets: string[] = [];

  beforeAll(async () => {
    mkdirSync(workDir, { recursive: true });
    webhook = await startWebhookReceiver();
    stack = await startPrivateStack({ kafkaSecurity: 'mtls', log });
    kafkaEnv = stack.kafkaEnv ?? {};
    for (const [k, v] of Object.entries(kafkaEnv)) if (k.endsWith('_FILE')) secrets.push(readFileSync(v, 'utf8').trim());
  }, 300_000);

  afterAll(async () => {
    await webhook?.close();
    await stack?.down();
  }, 120_000);

  it('the stack should hand out SASL_SSL settings with a client certificate, every secret as a file', () => {
    expect(Object.keys(kafkaEnv).sort()).toEqual([
      'KAFKA_SASL_MECHANISM',
      'KAFKA_SASL_PASSWORD_FILE',
      'KAFKA_SASL_USERNAME',
      'KAFKA_SECURITY_PROTOCOL',
      'KAFKA_SSL_CA_LOCATION',
      'KAFKA_SSL_CERTIFICATE_LOCATION',
      'KAFKA_SSL_KEY_LOCATION',
      'KAFKA_SSL_KEY_PASSWORD_FILE',
    ]);
    expect(kafkaEnv).toMatchObject({ KAFKA_SECURITY_PROTOCOL: 'sasl_ssl', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512' });
    expect(secrets).toHaveLength(2);
  });

  it(
    'the pipeline should lose nothing, hold every event once, match the recount and return to lag 0 under kill-random over SASL_SSL with mutual TLS, as over plaintext, and the ops CLI should describe and plan over the same settings',
    async () => {
      const [scenario] = selectScenarios(['kill-random']);
      if (!scenario) throw new Error('no kill-random scenario');
      // keep: the run's topics and groups stay for the ops CLI, deleted below.
      const r: ScenarioResult = await runScenario(scenario, { scenarios: [scenario], events: EVENTS, rate: RATE, seed: SEED, stack, useProxy: false, workDir, log, keep: true }, webhook);
      log(`\n${summaryTable([r])}`);
      const routerGroup = r.groups.find((g) => g.groupId.endsWith('-filter-router'))?.groupId ?? '';
      const names = runNames(routerGroup.replace(/-filter-router$/, ''));
      try {
        // The same expectations as the plaintext chaos suite (chaos.int.spec.ts).
        expectExactOutcome(r, EVENTS);
        expect(r.eventsIn).toBe(EVENTS); // no poison in kill-random
        expect(r.actions.filter((a) => a.includes('kill -9'))).toHaveLength(6);

        // The operations CLI, as shipped in the lag-monitor image, with the apps' settings.
        const cliEnv = { ...kafkaEnv, KAFKA_BOOTSTRAP_SERVERS: stack.bootstrapServers, SCHEMA_REGISTRY_URL: stack.registryUrl, LOG_LEVEL: 'warn' };
        const described = await opsCli(cliEnv, ['describe-groups', names.groups.router, names.groups.aggregator, '--json']);
        expect({ code: described.code, stderr: described.stderr }).toEqual({ code: 0, stderr: '' });
        const groups = JSON.parse(described.stdout) as GroupDetailView[];
        expect(groups.map((g) => [g.groupId, g.totalLag]).sort()).toEqual([
          [names.groups.aggregator, 0],
          [names.groups.router, 0],
        ]);
        const plan = await opsCli(cliEnv, ['reset-offsets', '--group', names.groups.router, '--topic', names.topics.raw, '--to-latest', '--json']);
        expect(plan.code).toBe(0);
        const planned = JSON.parse(plan.stdout) as { executed: boolean; plan: ResetPlanEntry[] };
        expect(planned.executed).toBe(false);
        // The plan starts where describe-groups says the group is (both read over SASL_SSL), on every
        // partition of its input. (--to-latest is one past it: the end offset counts the last commit marker.)
        const router = groups.find((g) => g.groupId === names.groups.router);
        const committed = (router?.partitions ?? []).filter((p) => p.topic === names.topics.raw).map((p) => [p.partition, p.committedOffset]);
        expect(planned.plan.length).toBeGreaterThan(0);
        expect(planned.plan.map((p) => [p.partition, p.current]).sort()).toEqual(committed.sort());
        expect(planned.plan.every((p) => p.target === p.high && p.lagAfter === 0)).toBe(true);
        for (const out of [described.stdout, described.stderr, plan.stdout, plan.stderr]) for (const s of secrets) expect(out).not.toContain(s);
      } finally {
        await deleteTopics(stack, names).catch(() => undefined);
        await dropDatabase(stack.databaseUrl, names.database).catch(() => undefined);
      }
    },
    600_000,
  );

  describe('bad credentials', () => {
    const badDir = join(workDir, 'bad');
    const wrongPassword = `wrong-${Date.now()}-password`;
    beforeAll(() => {
      mkdirSync(badDir, { recursive: true });
      writeFileSync(join(badDir, 'wrong-password.txt'), `${wrongPassword}\n`, { mode: 0o600 });
      // A CA and a client certificate of its own, which the stack's broker knows nothing of.
      const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=not the stack CA'], { cwd: badDir, encoding: 'utf8' });
      if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
    });

    const cases: Array<[string, () => Record<string, string>, RegExp]> = [
      ['a wrong password', () => ({ KAFKA_SASL_PASSWORD_FILE: join(badDir, 'wrong-password.txt') }), /SASL authentication error: Authentication failed .*invalid credentials/],
      ['a broker certificate the client cannot verify (another CA)', () => ({ KAFKA_SSL_CA_LOCATION: join(badDir, 'other.pem') }), /certificate verify failed/],
      [
        'a client certificate the broker does not trust',
        () => ({ KAFKA_SSL_CERTIFICATE_LOCATION: join(badDir, 'other.pem'), KAFKA_SSL_KEY_LOCATION: join(badDir, 'other.key'), KAFKA_SSL_KEY_PASSWORD_FILE: '' }),
        /alert bad certificate/,
      ],
    ];

    it.each(cases)(
      'every Kafka app given %s should exit non-zero at start, with the broker refusal in its log and no secret',
      async (_what, override, reason) => {
        const env = {
          ...kafkaEnv,
          KAFKA_BOOTSTRAP_SERVERS: stack.bootstrapServers,
          SCHEMA_REGISTRY_URL: stack.registryUrl,
          DATABASE_URL: stack.databaseUrl,
          HTTP_PORT: '0',
          LOG_LEVEL: 'info',
          OTEL_EXPORTER_OTLP_ENDPOINT: '',
          // Were a refusal retried like an unreachable broker, 20 attempts would take minutes.
          KAFKA_CONNECT_ATTEMPTS: '20',
          ...override(),
        };
        const procs = KAFKA_APPS.map((app) => startBuiltApp(app, env));
        try {
          const codes = await Promise.all(procs.map((p) => Promise.race([p.exited(), new Promise<'still running'>((r) => setTimeout(() => r('still running'), FAIL_AT_START_BOUND_MS).unref())])));
          expect(Object.fromEntries(procs.map((p, i) => [p.name, codes[i]]))).toEqual(Object.fromEntries(KAFKA_APPS.map((a) => [a, 1])));
          for (const p of procs) {
            const out = p.output();
            expect({ app: p.name, refused: reason.test(out), code: /"code":"KAFKA_AUTH_FAILED"/.test(out) }).toEqual({ app: p.name, refused: true, code: true });
            for (const s of [...secrets, wrongPassword]) expect(out).not.toContain(s);
          }
        } finally {
          for (const p of procs) p.kill('SIGKILL');
        }
      },
      FAIL_AT_START_BOUND_MS + 30_000,
    );
  });
});
