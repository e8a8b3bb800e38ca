// Lint rules for the whole workspace. Module boundaries are enforced, not just declared:
//   type:app     -> type:infra, type:domain        (never another app)
//   type:infra   -> type:infra, type:domain
//   type:domain  -> type:domain                    (pure logic: no Kafka, no OTel SDK, no node: builtins)
//   type:testing -> anything but apps; only *.spec.ts files and apps/*/testing/ may import it.
//   type:tool    -> type:infra, type:domain        (workspace scripts under tools/; nothing imports them)
// Clients stay behind their adapters:
//   @confluentinc/*              only libs/kafka/src (and libs/schemas/src for @confluentinc/schemaregistry)
//   pg                           only the persister's store files and the ops CLI's pg-offsets (PG_ADAPTERS below)
//   specs and test code (libs/testing, libs/kafka-integration, e2e, bench, tools/checks, the
//   persister's testing/ folder) import what they need.
import nx from '@nx/eslint-plugin';

const constraints = (allowTesting) => [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:infra', 'type:domain', ...(allowTesting ? ['type:testing'] : [])] },
  { sourceTag: 'type:infra', onlyDependOnLibsWithTags: ['type:infra', 'type:domain', ...(allowTesting ? ['type:testing'] : [])] },
  { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain', ...(allowTesting ? ['type:testing'] : [])] },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:testing', 'type:infra', 'type:domain'] },
  { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:infra', 'type:domain', ...(allowTesting ? ['type:testing'] : [])] },
];

const boundaries = (allowTesting) => [
  'error',
  {
    enforceBuildableLibDependency: false,
    allow: [],
    banTransitiveDependencies: false,
    depConstraints: constraints(allowTesting),
  },
];

/**
 * The only production files that talk to PostgreSQL through `pg` (api.ts reads through the store's Pool),
 * and the ops CLI's adapter of the persister's offsets table (reset-offsets moves the persister there).
 */
const PG_ADAPTERS = [...['store', 'rollup-store', 'db', 'migrate', 'pg-copy', 'api', 'analytics-api'].map((f) => `apps/dedup-persister/src/${f}.ts`), 'tools/ops/src/pg-offsets.ts'];

/** Test code: free to import clients directly. */
const TEST_CODE = ['**/*.spec.ts', 'libs/testing/**', 'libs/kafka-integration/**', 'e2e/**', 'bench/**', 'tools/checks/**', 'apps/*/testing/**'];

const KAFKA_CLIENT = { group: ['@confluentinc/*'], message: 'Only libs/kafka talks to the Kafka client (libs/schemas to the registry client): use @wikimonitor/kafka or @wikimonitor/schemas.' };
const KAFKA_CLIENT_BUT_REGISTRY = { ...KAFKA_CLIENT, group: ['@confluentinc/*', '!@confluentinc/schemaregistry'] };
const PG_CLIENT = { group: ['pg', 'pg/*'], message: "Only the persister's store files (store, db, migrate, pg-copy, api) and tools/ops/src/pg-offsets.ts import pg." };
const restrict = (...patterns) => ['error', { patterns }];

export default [
  { ignores: ['**/dist', '**/node_modules', '**/.stack', '**/.nx', '**/tmp', '**/*.js', '**/*.cjs'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@nx/enforce-module-boundaries': boundaries(false),
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name='process'][callee.property.name='exit']", message: 'Only apps/*/src/main.ts may call process.exit.' },
      ],
    },
  },
  {
    // Workspace scripts (node tools/...): plain ESM JavaScript, type-checked through tools/tsconfig.json (checkJs).
    files: ['**/*.mjs'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['apps/*/src/main.ts', 'e2e/src/chaos-run.ts', 'tools/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['**/*.spec.ts', 'libs/testing/**/*.ts', 'apps/*/testing/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': boundaries(true), 'no-restricted-syntax': 'off' },
  },
  {
    // Benchmarks drive apps in-process to measure them (never deployed, never imported by code):
    // the one place allowed to reach into an app's source.
    files: ['bench/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
  // Clients behind their adapters. Later blocks replace the rule's options for the files they match.
  {
    files: ['**/*.ts', '**/*.mjs'],
    ignores: TEST_CODE,
    rules: { 'no-restricted-imports': restrict(KAFKA_CLIENT, PG_CLIENT) },
  },
  {
    files: ['libs/kafka/src/**/*.ts'],
    ignores: TEST_CODE,
    rules: { 'no-restricted-imports': restrict(PG_CLIENT) },
  },
  {
    files: ['libs/schemas/src/**/*.ts'],
    ignores: TEST_CODE,
    rules: { 'no-restricted-imports': restrict(KAFKA_CLIENT_BUT_REGISTRY, PG_CLIENT) },
  },
  {
    files: PG_ADAPTERS,
    rules: { 'no-restricted-imports': restrict(KAFKA_CLIENT) },
  },
  {
    // Decision logic stays pure: table-testable without a broker.
    files: ['libs/domain/src/**/*.ts', 'libs/contracts/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'Domain logic does no I/O: no node: builtins.' },
            { group: ['@confluentinc/*', '@opentelemetry/sdk-*', 'pg', 'express'], message: 'Domain logic must not import clients or SDKs.' },
          ],
        },
      ],
    },
  },
];
