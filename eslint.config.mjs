// ESLint 9 flat config, after actions/typescript-action: typescript-eslint's
// type-checked rules over src/ and __tests__/, no import cycles, disables only
// for one line and with a reason, and eslint-config-prettier last so that
// formatting is Prettier's alone (npm run format:check).
import comments from '@eslint-community/eslint-plugin-eslint-comments'
import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import { createNodeResolver, importX } from 'eslint-plugin-import-x'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {
    // Only the TypeScript of src/ and __tests__/ is linted; build output and scripts are not.
    ignores: ['dist/', 'lib/', 'node_modules/', 'coverage/', '.tmp/', 'scripts/', 'examples/', '*.mjs', '*.mts', '*.js']
  },
  {
    files: ['src/**/*.ts', '__tests__/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        project: './tsconfig.test.json',
        tsconfigRootDir: import.meta.dirname
      }
    },
    plugins: { 'import-x': importX, '@eslint-community/eslint-comments': comments },
    settings: {
      // Follow imports into .ts files, parsed as TypeScript; node_modules is outside the cycle check.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/external-module-folders': ['node_modules', 'node_modules/@types'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json', '.node'] })]
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Modules may not import each other in a circle (layers.test.ts checks the direction of the layers).
      'import-x/no-cycle': 'error',
      // `const { secret: _secret, ...rest } = x` is how a field is left out.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // No file-wide or block disables; a line disable names its rule and says why: `// eslint-disable-next-line rule -- why`.
      '@eslint-community/eslint-comments/no-use': ['error', { allow: ['eslint-disable-next-line', 'eslint-disable-line'] }],
      '@eslint-community/eslint-comments/no-unlimited-disable': 'error',
      '@eslint-community/eslint-comments/require-description': 'error'
    }
  },
  prettier
)
