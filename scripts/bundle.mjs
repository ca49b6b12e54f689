#!/usr/bin/env node
// Bundles the compiled CLI (dist/src) into dist/bundle with esbuild: one module graph to load instead of
// hundreds of files, which is most of a short run's start-up; the --jobs worker's entry is a second entry
// point sharing the same chunks. `npm run build:bundle` runs it (dist/bundle is emptied first: chunk names
// change with their contents, and stale ones would ship).
//
// Two start-up costs of yargs' dependencies are deferred to first use, since only help text and width-fitted
// tables measure a string:
//   - Intl.Segmenter, which string-width builds when its module is evaluated (7-9 ms of ICU set-up):
//     scripts/lazy-segmenter.mjs is injected in its place;
//   - string-width's Unicode property regular expressions (\p{RGI_Emoji} with the v flag alone took 12-21 ms
//     to compile on every run, whether written as a literal or as new RegExp): each becomes an object that
//     compiles the same pattern on first use (lazyStringWidthRegexes below).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'bundle');

/** What a deferred pattern is used through in string-width: test, exec, and the String methods' protocol. */
const LAZY_HELPER = `
function __lazyRegExp(source, flags) {
  let re;
  const get = () => (re ??= new RegExp(source, flags));
  return {
    test: (s) => get().test(s),
    exec: (s) => get().exec(s),
    get lastIndex() { return get().lastIndex; },
    set lastIndex(v) { get().lastIndex = v; },
    get source() { return source; },
    get flags() { return flags; },
    get global() { return flags.includes('g'); },
    [Symbol.match]: (s) => get()[Symbol.match](s),
    [Symbol.matchAll]: (s) => get()[Symbol.matchAll](s),
    [Symbol.search]: (s) => get()[Symbol.search](s),
    [Symbol.replace]: (s, r) => get()[Symbol.replace](s, r),
    [Symbol.split]: (s, l) => get()[Symbol.split](s, l),
  };
}
`;

/** A top-level `const NAME = /PATTERN/FLAGS;` whose pattern uses a Unicode property (\p{...}). */
const PROPERTY_REGEX = /^const (\w+) = \/((?:[^/\\\n]|\\.)*\\p\{(?:[^/\\\n]|\\.)*)\/([a-z]*);$/gm;

const lazyStringWidthRegexes = {
  name: 'lazy-string-width-regexes',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/](?:.*[\\/])?string-width[\\/]index\.js$/ }, async (args) => {
      const src = await fs.promises.readFile(args.path, 'utf8');
      let n = 0;
      const out = src.replace(PROPERTY_REGEX, (_m, name, pattern, flags) => {
        n++;
        return `const ${name} = __lazyRegExp(${JSON.stringify(pattern)}, ${JSON.stringify(flags)});`;
      });
      if (n === 0) throw new Error(`${args.path}: no Unicode property pattern found to defer (string-width changed? see scripts/bundle.mjs)`);
      return { contents: out + LAZY_HELPER, loader: 'js' };
    });
  },
};

fs.rmSync(outdir, { recursive: true, force: true });
await esbuild.build({
  entryPoints: [path.join(root, 'dist/src/cli/main.js'), path.join(root, 'dist/src/pipeline/jobs-worker-main.js')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  splitting: true,
  outdir,
  entryNames: '[name]',
  external: ['xz-decompress', 'protobufjs', 'fzstd', '@hpcc-js/wasm-zstd', '@duckdb/node-api', 'apache-arrow', 'hyparquet'],
  target: 'node20',
  inject: [path.join(root, 'scripts/lazy-segmenter.mjs')],
  define: { 'Intl.Segmenter': 'LazySegmenter' },
  plugins: [lazyStringWidthRegexes],
  logLevel: 'warning',
});
