#!/usr/bin/env node
// Sums the Jest JSON reports of every Nx project (tmp/jest/*.json) into one closing line.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(process.cwd(), 'tmp', 'jest');
let passed = 0, failed = 0, skipped = 0, suitesFailed = 0;
const failures = [];
for (const f of existsSync(dir) ? readdirSync(dir).filter((x) => x.endsWith('.json')) : []) {
  const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  suitesFailed += r.numRuntimeErrorTestSuites ?? 0;
  for (const s of r.testResults) for (const t of s.assertionResults) if (t.status === 'failed') failures.push(`${f.replace('.json', '')}: ${t.fullName}`);
  for (const s of r.testResults) if (s.status === 'failed' && !s.assertionResults.length) failures.push(`${f.replace('.json', '')}: ${s.name} (suite failed to run)`);
}
for (const f of failures) console.log(`FAILED ${f}`);
console.log(`${passed} passed, ${failed + suitesFailed} failed, ${skipped} skipped`);
process.exit(failed + suitesFailed > 0 || passed === 0 ? 1 : 0);
