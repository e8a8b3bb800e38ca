// Loaded by jest.preset.js (setupFilesAfterEnv) in every test file: after the file's last test, any
// app process it started and did not stop (a test that timed out, an assertion that threw before
// the cleanup) is killed. Without this, a leftover child keeps the jest worker, and so the whole CI
// run, from ever exiting.
import { killAllAppProcesses } from './processes';

afterAll(() => {
  const n = killAllAppProcesses();
  if (n) console.warn(`jest-teardown: killed ${n} app process(es) this test file left running`);
});
