// ESLint flat config: typescript-eslint's type-checked rules over src, test, bench and graphs (tsconfig.json's files).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'models/generated/', 'bench-out/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test()/describe() return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // `const { [omit]: _x, ...rest } = o` is how the code drops a key; `_` marks a deliberately unused binding.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      // `async` without `await` is deliberate here: it satisfies Promise-returning interfaces (BenchTarget.close,
      // component methods, test callbacks) and turns a synchronous throw into a rejection.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // Tests match drawn terminal output (waterfall bars) with regexes where the literal spaces are the picture.
    files: ['test/**/*.ts'],
    rules: { 'no-regex-spaces': 'off' },
  },
  {
    // These tests and the stand-in API server walk untyped Kubernetes objects (YAML/JSON as the API server sees
    // them); typing every path would only restate the OpenAPI schemas that kubernetes-models already checks.
    files: [
      'test/unit/k8s-*.test.ts',
      'test/unit/seldon-*.test.ts',
      'test/integration/operator*.test.ts',
      'test/helpers/fake-apiserver.ts',
      'test/helpers/fake-ssa.ts',
      'test/helpers/rbac.ts',
    ],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  { files: ['**/*.mjs', '**/*.js'], ...tseslint.configs.disableTypeChecked },
);
