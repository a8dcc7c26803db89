// Architecture guardrails, checked by `npm run lint:deps` (and .ci/run): no import cycle, and the layers that must
// stay apart do. See docs/code-layout.md for why each boundary exists.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment:
        'An import cycle makes load order matter and hides which module owns an idea: move the shared piece down.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'saml-is-a-protocol-adapter',
      severity: 'error',
      comment:
        'src/saml/ builds and checks SAML messages only: it knows no database, no HTTP and no organisation (pure helpers: crypto/, errors.ts, project-root.ts).',
      from: { path: '^src/saml/' },
      to: {
        path: [
          '^src/(?!saml/|crypto/|errors\\.ts$|project-root\\.ts$)',
          '^generated/',
          'node_modules/(fastify|@fastify|@prisma|prisma|pg|better-sqlite3|ioredis)/',
        ],
      },
    },
    {
      name: 'policy-is-pure',
      severity: 'error',
      comment:
        'src/policy/ decides from values it is given: outside itself it may only name types (and raise AppError).',
      from: { path: '^src/policy/' },
      to: { path: '^src/(?!policy/|errors\\.ts$)', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'policy-does-no-io',
      severity: 'error',
      from: { path: '^src/policy/' },
      to: { path: 'node_modules/(fastify|@fastify|@prisma|pg|better-sqlite3|ioredis)/|^generated/' },
    },
    {
      name: 'store-knows-no-http',
      severity: 'error',
      comment: 'The store seam serves every edge (HTTP, CLI, background tasks): it never imports one of them.',
      from: { path: '^src/store/' },
      to: {
        path: [
          '^src/(broker|admin|plugins|cli|orgs|users|audit)/',
          '^src/(app|server)\\.ts$',
          'node_modules/(fastify|@fastify)/',
        ],
      },
    },
    {
      name: 'store-engine-behind-the-seam',
      severity: 'error',
      comment:
        'The database engine (client, driver SQL, group commit, migrations, config cache) is reached through the Store and its repositories; only the composition root opens it.',
      from: { path: '^src/(?!store/|bootstrap\\.ts$)' },
      to: { path: '^src/store/engine/' },
    },
    {
      name: 'broker-flow-knows-no-http',
      severity: 'error',
      comment:
        'In src/broker/ only http/ reads requests and writes replies; the flow services take plain values and return outcomes.',
      from: { path: '^src/broker/(?!http/)' },
      to: { path: ['node_modules/(fastify|@fastify)/', '^src/broker/http/'] },
    },
    {
      name: 'only-cli-imports-cli',
      severity: 'error',
      from: { path: '^src/(?!cli/)' },
      to: { path: '^src/cli/' },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules', '^generated/'] },
    exclude: { path: '^generated/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.json'] },
  },
};
