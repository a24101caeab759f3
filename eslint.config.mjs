// @ts-check
/**
 * ESLint over src/, test/, bench/, scripts/ and migrations/: typescript-eslint's recommended rules without
 * type information (fast on a small machine; tsc already checks the types), plus eslint-config-prettier so
 * that formatting is Prettier's job alone. Rules are tuned only where they clash with a deliberate style,
 * each with its reason.
 */
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** Names a plain script may use without declaring them (no `globals` package: the lists are short). */
const readonly = (names) => Object.fromEntries(names.map((n) => [n, 'readonly']));
const NODE_COMMONJS = readonly([
  'require',
  'module',
  'exports',
  '__dirname',
  '__filename',
  'process',
  'console',
  'Buffer',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'URL',
]);
const NODE_ESM = readonly(['process', 'console', 'Buffer', 'setTimeout', 'clearTimeout', 'URL', 'import']);
const BROWSER = readonly([
  'window',
  'document',
  'navigator',
  'location',
  'fetch',
  'console',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'Notification',
  'URL',
  'Uint8Array',
  'URLSearchParams',
  'atob',
  'Date',
  'Promise',
]);
const SERVICE_WORKER = readonly(['self', 'clients', 'console', 'fetch', 'URL', 'Promise']);

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      // the MCP conformance suite's reference server, vendored unchanged (see its header)
      'test/support/conformance/everything-server.ts',
    ],
  },
  {
    files: ['**/*.{ts,js,mjs,cjs}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended, prettier],
    rules: {
      // `_name` marks a binding kept on purpose: a positional argument an interface hands us, or a field
      // pulled out of an object so that `...rest` is the object without it
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // input validation matches control characters on purpose (it refuses them, or Postgres cannot store them)
      'no-control-regex': 'off',
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', '**/*.spec.ts'],
    rules: {
      // tests and benches read untyped JSON responses and poke at private state; typing every body adds noise, not safety
      '@typescript-eslint/no-explicit-any': 'off',
      // tests write 1e309 on purpose: a number JSON parses (to Infinity) that Postgres cannot store
      'no-loss-of-precision': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: NODE_COMMONJS },
    rules: {
      // plain CommonJS scripts run by node without a build step
      '@typescript-eslint/no-require-imports': 'off',
      // typescript-eslint turns this off for TypeScript (tsc checks names); plain scripts have no tsc
      'no-undef': 'error',
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: NODE_ESM },
    rules: { 'no-undef': 'error' },
  },
  {
    files: ['src/notifications/page/assets/*.js'],
    languageOptions: { sourceType: 'script', globals: BROWSER },
    rules: {
      // the page's scripts are plain browser JavaScript with no build step, written in ES5 style (var, catch (e))
      'no-var': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { caughtErrors: 'none' }],
    },
  },
  {
    files: ['src/notifications/page/assets/sw.js'],
    languageOptions: { globals: SERVICE_WORKER },
  },
);
