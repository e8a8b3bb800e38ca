// Shared Jest setup for every Nx project: SWC transpiles TypeScript (type checking is the
// `typecheck` target's job), path aliases come from tsconfig.base.json so they are never kept twice.
const path = require('node:path');
const { compilerOptions } = require('./tsconfig.base.json');

const moduleNameMapper = {};
for (const [alias, [target]] of Object.entries(compilerOptions.paths)) {
  moduleNameMapper[`^${alias.replace(/[/]/g, '\\/')}$`] = path.join(__dirname, target);
}

module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  testMatch: ['**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  // Integration tests talk to a real broker; give them room, never assert on timing.
  testTimeout: 120_000,
  // Kills app processes a test file left running (a timed-out test), so no run hangs on them.
  setupFilesAfterEnv: [path.join(__dirname, 'libs/testing/src/jest-teardown.ts')],
  // Deletes the Kafka topics and groups the run's tests created (names from uniqueName), once all
  // files are done, so a developer's stack is not polluted (libs/testing/src/cleanup.ts).
  globalSetup: path.join(__dirname, 'libs/testing/src/jest-global-setup.ts'),
  globalTeardown: path.join(__dirname, 'libs/testing/src/jest-global-teardown.ts'),
};
