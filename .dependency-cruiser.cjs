// Import rules `npm run lint` checks with dependency-cruiser (docs/DESIGN.md, "Layout rules").
// dependency-cruiser reads TypeScript's own resolution (tsconfig.check.json) and, with
// tsPreCompilationDeps, sees `import type` too: a cycle made only of types is still two modules
// that cannot be read apart, and ESLint's import/no-cycle skips those.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'A piece two modules share moves to a lower module, so each can be read without the other.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-stands-alone',
      severity: 'error',
      comment: 'The action imports nothing of the stand-in, the tests, the scripts or the bench.',
      from: { path: '^src/' },
      to: { path: '^(standin|test|scripts|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.check.json' },
    exclude: { path: '^(dist|node_modules|coverage|bench/results)/' },
  },
}
