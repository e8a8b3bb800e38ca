// Lint rules for the whole workspace. Module boundaries are enforced, not just declared:
//   type:app     -> type:infra, type:domain        (never another app)
//   type:infra   -> type:infra, type:domain
//   type:domain  -> type:domain                    (pure logic: no Kafka, no OTel SDK, no node: builtins)
//   type:testing -> anything but apps; only *.spec.ts files may import it.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

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

export default [
  { ignores: ['**/dist', '**/node_modules', '**/.stack', '**/.nx', '**/tmp', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
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
    files: ['apps/*/src/main.ts', 'tools/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['**/*.spec.ts', 'libs/testing/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': boundaries(true), 'no-restricted-syntax': 'off' },
  },
  {
    // Benchmarks drive apps in-process to measure them (never deployed, never imported by code):
    // the one place allowed to reach into an app's source.
    files: ['bench/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
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
