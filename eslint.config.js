// Lint for the action, the stand-in, the scripts, the bench and the tests. Formatting is not
// linted here: style rules would only argue with the formatter.
import eslint from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.standin/', 'bench/results/'] },
  eslint.configs.recommended,
  tseslint.configs.recommended,
  {
    // Type information for the few rules below that need it; one program (tsconfig.check.json)
    // covers every linted .ts file. Not the whole recommendedTypeChecked set: its no-unsafe-*
    // rules flag every JSON.parse in the tests, which finds no bugs.
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { project: './tsconfig.check.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An un-awaited flyctl call or a promise where a boolean belongs: bugs the compiler misses.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // "[object Object]" in a message or a flyctl argument.
      '@typescript-eslint/no-base-to-string': 'error',
    },
  },
  {
    rules: {
      // `_name` marks a parameter kept for a signature's shape.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // .dependency-cruiser.cjs: the one CommonJS file (dependency-cruiser's config format).
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    // A test reaches into parsed TOML and JSON whose shape its own assertions check; a precise
    // type there would only restate the expectation.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // A function of the action fits a screen: every line from its first to its last counts.
    files: ['src/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: false, skipComments: false }],
    },
  },
)
