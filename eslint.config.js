import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.cache/', 'coverage/', 'web/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', structuredClone: 'readonly', performance: 'readonly', setImmediate: 'readonly', queueMicrotask: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error', 'warn'] }],
      eqeqeq: ['error', 'always'],
    },
  },
  { files: ['src/cli/**', 'bench/**', 'scripts/**', 'test/**'], rules: { 'no-console': 'off' } },
  // The reference server and the CLI are worked examples of the public API: they import the package entry
  // (src/index.ts) and their own folder, nothing else of src/.
  {
    files: ['src/service/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['../*', '!../index.js'], message: 'Import from the package entry (../index.js): the reference server uses only the public API.' }],
      }],
    },
  },
  {
    files: ['src/cli/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['../*', '!../index.js', '!../service', '!../service/server.js'], message: 'Import from the package entry (../index.js) or the reference server: the CLI uses only the public API.' }],
      }],
    },
  },
);
