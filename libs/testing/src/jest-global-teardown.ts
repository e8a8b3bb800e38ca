// jest.preset.js globalTeardown: once every test file of the run is done (their apps stopped, so
// their groups are empty), deletes the Kafka topics and consumer groups the tests created.
import { cleanUpTestRun } from './cleanup';
import { TEST_NAMES_DIR_VAR } from './test-registry';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env[TEST_NAMES_DIR_VAR];
  if (dir) await cleanUpTestRun(dir);
}
