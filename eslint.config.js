// Lint rules: the recommended sets of ESLint and typescript-eslint (without type information, so a run takes
// seconds). Formatting is Prettier's job (.prettierrc.json); import boundaries and cycles are dependency-cruiser's
// (.dependency-cruiser.cjs). `npm run lint` runs all three; .ci/run calls it.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['generated/**', 'dist/**', 'node_modules/**', 'test-artifacts/**', 'data/**', 'coverage/**', '.tap/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: globals.node } },
  {
    rules: {
      // A leading underscore marks a parameter or a destructured field that is left out on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Control characters in patterns are deliberate here: they are what XML 1.0 and CSV cells must refuse.
      'no-control-regex': 'off',
    },
  },
  {
    // One store seam: outside src/store, code reaches data through forOrg(orgId), the platform store or the system
    // repository, never through the database client the Store holds (tests may, to seed and to inspect).
    files: ['src/**/*.ts'],
    ignores: ['src/store/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "MemberExpression[property.name=/^(db|sql)$/][object.type='MemberExpression'][object.property.name='store'], MemberExpression[property.name=/^(db|sql)$/][object.name='store']",
          message: "Use the store's repositories (forOrg, platform, system), not its database client.",
        },
      ],
    },
  },
);
