// The registry of names handed to tests in one jest run (see cleanup.ts): node builtins only, so
// uniqueName() stays cheap in unit tests.
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The registry folder of this jest run (set by the global setup; unset outside jest: nothing is registered). */
export const TEST_NAMES_DIR_VAR = 'WM_TEST_NAMES_DIR';
/** `true` keeps the run's topics and groups (to look at them after a failure). */
export const KEEP_TEST_RESOURCES_VAR = 'WM_KEEP_TEST_TOPICS';
const BROKER_LINE = 'broker ';

function registryFile(): string | undefined {
  const dir = process.env[TEST_NAMES_DIR_VAR];
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  return join(dir, `${process.pid}.names`);
}

/** Records a name handed to a test (a topic, a group, or the prefix of several). */
export function registerTestName(name: string): void {
  const file = registryFile();
  if (file) appendFileSync(file, `${name}\n`);
}

/** Records a broker the tests of this run use (the local stack or explicit env; not a throwaway container). */
export function registerTestBroker(bootstrapServers: string): void {
  const file = registryFile();
  if (file) appendFileSync(file, `${BROKER_LINE}${bootstrapServers}\n`);
}

export interface TestRegistry {
  names: string[];
  brokers: string[];
}

export function readTestRegistry(dir: string): TestRegistry {
  const names = new Set<string>();
  const brokers = new Set<string>();
  if (!existsSync(dir)) return { names: [], brokers: [] };
  for (const f of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line) continue;
      if (line.startsWith(BROKER_LINE)) brokers.add(line.slice(BROKER_LINE.length));
      else names.add(line);
    }
  }
  return { names: [...names], brokers: [...brokers] };
}

