/**
 * The layers of src/ (docs/architecture.md), checked by `npm test` (depcruise runs before vitest).
 * Data flows one way: bytes -> formats -> wasm core -> analysis -> report; the pipeline drives it, export
 * and cli sit on top. core/ is the vocabulary every layer shares (errors, the EventSink seam, exit-reason
 * names, histogram buckets). An import against this flow fails the test run.
 */
const layer = (name, mayNotImport, why) => ({
  name: `${name}-not-${mayNotImport.join('-')}`,
  comment: why,
  severity: 'error',
  from: { path: `^src/${name}/` },
  to: { path: `^src/(${mayNotImport.join('|')})/` },
});

module.exports = {
  forbidden: [
    layer('core', ['wasm', 'formats', 'pipeline', 'analysis', 'report', 'export', 'cli'], 'core/ is the shared vocabulary: it depends on no other layer'),
    layer('wasm', ['formats', 'pipeline', 'analysis', 'report', 'export', 'cli'], 'the wasm host knows the core\'s memory, not the readers or what is made of its tables'),
    layer('formats', ['pipeline', 'analysis', 'report', 'export', 'cli'], 'a reader turns bytes into events; it knows nothing of the analysis or the output'),
    layer('analysis', ['formats', 'pipeline', 'report', 'export', 'cli'], 'the analysis is independent of the input formats and of how it is shown'),
    layer('pipeline', ['report', 'export', 'cli'], 'the pipeline ends at a Report'),
    layer('report', ['wasm', 'formats', 'pipeline', 'export', 'cli'], 'renderers read a finished Report only'),
    layer('export', ['cli'], 'exporters are called by the CLI, never the other way'),
    {
      name: 'no-import-from-tests-or-bench',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|scripts|fuzz)/' },
    },
    {
      name: 'assembly-only-constants',
      comment: 'TypeScript shares assembly/constants.ts with the core; the rest of assembly/ is compiled to wasm',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^assembly/', pathNot: '^assembly/constants\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
