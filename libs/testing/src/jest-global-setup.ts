// jest.preset.js globalSetup: names this run's registry of test names (test-registry.ts). Workers
// are started after it and inherit the variable; jest-global-teardown.ts deletes what it lists.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TEST_NAMES_DIR_VAR } from './test-registry';

export default function globalSetup(): void {
  const dir = join(resolve(__dirname, '..', '..', '..'), 'tmp', 'test-names', `run-${Date.now().toString(36)}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  process.env[TEST_NAMES_DIR_VAR] = dir;
}
