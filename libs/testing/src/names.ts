import { randomBytes } from 'node:crypto';
import { registerTestName } from './test-registry';

/**
 * A unique name for a test's topic or group, so tests never share state and can run in parallel.
 * Registered for the run's cleanup: topics and groups whose name contains it are deleted when the
 * jest run ends (cleanup.ts), so derive a test's names from it (`${prefix}.in`, `${prefix}-group`).
 */
export function uniqueName(prefix: string): string {
  const name = `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  registerTestName(name);
  return name;
}

/** Polls `check` until it returns a truthy value or the timeout passes (then throws with `what`). */
export async function waitFor<T>(check: () => Promise<T | undefined | null | false> | T | undefined | null | false, what: string, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
