import { spawn } from 'node:child_process';

/**
 * Whether the native addon's describeGroups can be called without risking the process.
 *
 * @confluentinc/kafka-javascript 1.10.1 crashes the whole process (SIGSEGV) in describeGroups when a
 * group description carries an error, e.g. while the broker is unreachable (upstream #531;
 * tools/build/patch-kafka-addon.mjs patches and rebuilds the addon, and scripts/bootstrap.sh and the
 * Docker image run it). An addon installed some other way may still be unpatched: this asks a child
 * process to do the crashing call (describe a group through a broker address nobody listens on) and
 * looks at how it ended, so the caller can leave describeGroups alone instead of dying in an outage.
 */
export interface NativeGuardVerdict {
  /** false only when the child proved the crash (died by a signal). */
  safe: boolean;
  /** 'patched' (the call returned), 'crashes' (it killed the child) or 'inconclusive' (the check itself failed: assumed safe). */
  outcome: 'patched' | 'crashes' | 'inconclusive';
  detail: string;
}

/** The child's program: argv[1] is the addon's resolved path, so it loads the very same binary. */
export const DESCRIBE_GROUPS_PROBE = `
const { KafkaJS } = require(process.argv[1]);
(async () => {
  const admin = new KafkaJS.Kafka({}).admin({ 'bootstrap.servers': '127.0.0.1:1', log_level: 0 });
  await admin.connect();
  try { await admin.describeGroups(['wikimonitor-native-guard'], { timeout: 1000 }); } catch { /* an error is the good outcome */ }
  await admin.disconnect().catch(() => undefined);
  process.stdout.write('returned');
})();`;

export interface NativeGuardOptions {
  /** The program the child runs (tests pass one that crashes on purpose). */
  program?: string;
  timeoutMs?: number;
}

export function checkDescribeGroups(opts: NativeGuardOptions = {}): Promise<NativeGuardVerdict> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return new Promise((resolve) => {
    let addon: string;
    try {
      addon = require.resolve('@confluentinc/kafka-javascript');
    } catch (err) {
      resolve({ safe: true, outcome: 'inconclusive', detail: `addon not resolvable: ${(err as Error).message}` });
      return;
    }
    const child = spawn(process.execPath, ['-e', opts.program ?? DESCRIBE_GROUPS_PROBE, addon], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ safe: true, outcome: 'inconclusive', detail: `could not run the check: ${e.message}` });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal && signal !== 'SIGKILL') resolve({ safe: false, outcome: 'crashes', detail: `describeGroups through an unreachable broker killed a child process with ${signal}: the addon is unpatched (run node tools/build/patch-kafka-addon.mjs)` });
      else if (code === 0 && out.includes('returned')) resolve({ safe: true, outcome: 'patched', detail: 'describeGroups through an unreachable broker returned an error, as it should' });
      else resolve({ safe: true, outcome: 'inconclusive', detail: signal ? `the check timed out after ${timeoutMs} ms` : `the check exited ${code}: ${err.trim().split('\n').slice(-1)[0] ?? ''}` });
    });
  });
}

let memo: Promise<NativeGuardVerdict> | undefined;
/** checkDescribeGroups once per process. */
export function describeGroupsVerdict(): Promise<NativeGuardVerdict> {
  memo ??= checkDescribeGroups();
  return memo;
}
