// jest.preset.js globalTeardown: once every test file of the run is done (their apps stopped, so
// their groups are empty), deletes the Kafka topics and consumer groups the tests created.
import { cleanUpTestRun } from './cleanup';
import { TEST_NAMES_DIR_VAR } from './test-registry';

/** Cleanup is best effort: a broker call that never answers must not hold the test run (jest gives global hooks no timeout). */
const CLEANUP_BOUND_MS = 90_000;

export default async function globalTeardown(): Promise<void> {
  const dir = process.env[TEST_NAMES_DIR_VAR];
  if (!dir) return;
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'timed out'>((resolve) => {
    timer = setTimeout(() => resolve('timed out'), CLEANUP_BOUND_MS);
    timer.unref();
  });
  const outcome = await Promise.race([cleanUpTestRun(dir).then(() => 'done' as const), bound]);
  clearTimeout(timer);
  if (outcome === 'timed out') console.warn(`test cleanup did not finish in ${CLEANUP_BOUND_MS / 1000} s; the tests' topics and groups may be left on the stack`);
}
