#!/usr/bin/env node
// Bundles the compiled CLI (dist/src) into dist/bundle with esbuild: one script to load instead of hundreds
// of files, which is most of a short run's start-up (dist/bundle/cli.cjs, and its V8 code cache made at the
// end), and the --jobs worker's entry with its chunks. `npm run build:bundle` runs it (dist/bundle is emptied
// first: chunk names change with their contents, and stale ones would ship).
//
// Two start-up costs of yargs' dependencies are deferred to first use, since only help text and width-fitted
// tables measure a string:
//   - Intl.Segmenter, which string-width builds when its module is evaluated (7-9 ms of ICU set-up):
//     scripts/lazy-segmenter.mjs is injected in its place;
//   - string-width's Unicode property regular expressions (\p{RGI_Emoji} with the v flag alone took 12-21 ms
//     to compile on every run, whether written as a literal or as new RegExp): each becomes an object that
//     compiles the same pattern on first use (lazyStringWidthRegexes below).
// And the string-width 7 that cliui and wrap-ansi use measures printable ASCII at once, as string-width 8 does
// (ASCII_FAST_PATH below): it walked each character through the segmenter and built emoji-regex's pattern for
// each, most of `--help`'s layout time.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
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

/**
 * string-width 7 (cliui's and wrap-ansi's) measures every string a character at a time: the segmenter, then
 * emoji-regex's whole pattern built and tested per character. For printable ASCII (0x20-0x7e) each character
 * is one column, and no escape sequence can start (ESC and CSI lie outside it), so the width is the length:
 * the fast path string-width 8 has, put in after its empty-string check. A version with its own fast path is
 * left as it is; any other shape fails the build.
 */
const ASCII_FAST_PATH_AT = "\tif (typeof string !== 'string' || string.length === 0) {\n\t\treturn 0;\n\t}\n";
const ASCII_FAST_PATH = '\tif (/^[\\x20-\\x7e]*$/.test(string)) {\n\t\treturn string.length;\n\t}\n';
const HAS_ASCII_FAST_PATH = /Fast path: printable ASCII/;

const lazyStringWidthRegexes = {
  name: 'lazy-string-width-regexes',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/](?:.*[\\/])?string-width[\\/]index\.js$/ }, async (args) => {
      let src = await fs.promises.readFile(args.path, 'utf8');
      if (!HAS_ASCII_FAST_PATH.test(src)) {
        if (!src.includes(ASCII_FAST_PATH_AT)) throw new Error(`${args.path}: no empty-string check to put the ASCII fast path after (string-width changed? see scripts/bundle.mjs)`);
        src = src.replace(ASCII_FAST_PATH_AT, ASCII_FAST_PATH_AT + ASCII_FAST_PATH);
      }
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

/**
 * yargs' platform shim (lib/platform-shims/esm.mjs), changed in three places:
 * - yargs reads a package.json for a default version (its factory calls .version() before ours is given),
 *   found upward from its "main file": outside node_modules that is the working directory. From /tmp (15,000
 *   entries) that read-dir walk cost a 2-line report 10 ms, and it read whatever package.json sat above the
 *   user's directory. In the bundle it starts from cli.cjs itself, and finds kvmtax's own.
 * - It read process.stdout.columns when it was loaded, which builds process.stdout (an fs stream for a file,
 *   a socket for a pipe: 3-6 ms) in every run, a report's too (which writes to fd 1 itself:
 *   src/core/stdout.ts). The value is now a getter: read when yargs asks for the terminal's width.
 * - Its `import { notStrictEqual, strictEqual } from 'assert'` loaded node:assert in every run, and node:assert
 *   loads its colour support, which builds process.stderr to ask whether it has colours. yargs calls them for
 *   its own consistency checks, which pass: the checks are now made here, and node:assert loaded only to
 *   fail one.
 */
const SHIM_CHANGES = [
  ['mainFilename: mainFilename || process.cwd(),', 'mainFilename: __dirname,'],
  ["stdColumns: typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null",
    "get stdColumns() { return typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null; }"],
  ["import { notStrictEqual, strictEqual } from 'assert'",
    // (the same tests as node:assert's, which fails them with its own error)
    "const notStrictEqual = (a, b, m) => { if (Object.is(a, b)) require('node:assert').notStrictEqual(a, b, m); };\n" +
    "const strictEqual = (a, b, m) => { if (!Object.is(a, b)) require('node:assert').strictEqual(a, b, m); };"],
];
/**
 * yargs' setBlocking (lib/utils/set-blocking.js), called before it prints --help or --version, makes a
 * terminal's handle blocking; it read process.stdout and process.stderr to find out, which builds both (an
 * fs stream for a file or /dev/null, a socket for a pipe: 3-6 ms each). It now looks at fds 1 and 2 first
 * (fstat: a character device other than /dev/null may be a terminal) and builds a stream only for those.
 */
const SET_BLOCKING_FROM = '[process.stdout, process.stderr].forEach(_stream => {';
const SET_BLOCKING_TO = `[[1, 'stdout'], [2, 'stderr']].filter(([fd]) => {
        const fs = process.getBuiltinModule('node:fs');
        try {
            const st = fs.fstatSync(fd);
            return st.isCharacterDevice() && st.rdev !== fs.statSync('/dev/null').rdev;
        } catch {
            return true;
        }
    }).map(([, name]) => process[name]).forEach(_stream => {`;
const yargsShim = {
  name: 'yargs-shim',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]yargs[\\/]build[\\/]lib[\\/]utils[\\/]set-blocking\.js$/ }, async (args) => {
      const src = await fs.promises.readFile(args.path, 'utf8');
      if (!src.includes(SET_BLOCKING_FROM)) throw new Error(`${args.path}: no "${SET_BLOCKING_FROM}" to replace (yargs changed? see scripts/bundle.mjs)`);
      return { contents: src.replace(SET_BLOCKING_FROM, SET_BLOCKING_TO), loader: 'js' };
    });
    build.onLoad({ filter: /[\\/]node_modules[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/ }, async (args) => {
      let src = await fs.promises.readFile(args.path, 'utf8');
      for (const [from, to] of SHIM_CHANGES) {
        if (!src.includes(from)) throw new Error(`${args.path}: no "${from}" to replace (yargs changed? see scripts/bundle.mjs)`);
        src = src.replace(from, to);
      }
      return { contents: src, loader: 'js' };
    });
  },
};

const common = {
  bundle: true,
  platform: 'node',
  external: ['xz-decompress', 'protobufjs', 'fzstd', '@hpcc-js/wasm-zstd', '@duckdb/node-api', 'apache-arrow', 'hyparquet'],
  target: 'node20',
  inject: [path.join(root, 'scripts/lazy-segmenter.mjs')],
  plugins: [lazyStringWidthRegexes, yargsShim],
  // minified, as cli.cjs holds every module (with its names kept, V8's scope data for the whole script cost
  // 6 MB of heap); the worker's modules too. The .map files (not loaded) map an internal error's positions
  // and names back to dist/src. Not keepNames: it wraps every function esbuild renames in a call that
  // defines its name property, closures made per event included (the Perfetto reader took 2.1 s instead
  // of 1.2 on the bench's Perfetto file, much of it in those calls and the garbage they left)
  minify: true,
  keepNames: false,
  sourcemap: 'external',
  logLevel: 'warning',
};

fs.rmSync(outdir, { recursive: true, force: true });
// the CLI: one CommonJS script that bin/kvmtax.js compiles with V8's code cache (below). A dynamic import()
// of our own modules becomes a lazy initializer in it, so the optional verbs' packages (protobufjs, DuckDB)
// still load only when used.
await esbuild.build({
  ...common,
  entryPoints: [path.join(root, 'dist/src/cli/main.js')],
  format: 'cjs',
  outfile: path.join(outdir, 'cli.cjs'),
  // import.meta.url: cli.cjs's file: URL, which bin/kvmtax.js passes in as it calls the script
  define: { 'Intl.Segmenter': 'LazySegmenter', 'import.meta.url': '__kvmtaxModuleUrl' },
});
// A dynamic import() in a script that vm.Script compiled needs Node's experimental importModuleDynamically,
// and a function restored from the code cache loses it ("A dynamic import callback was not specified", Node
// 20): the packages cli.cjs imports dynamically are imported by bin/kvmtax.js's function instead, $kvImp
// (as long as "import", so that cli.cjs.map stays exact).
const cliFile = path.join(outdir, 'cli.cjs');
const cli = fs.readFileSync(cliFile, 'utf8');
// cli.cjs stays ASCII: one character beyond it (a µ in a regular expression literal, which esbuild leaves as
// written) makes V8 hold the whole 750 KB script as two-byte UTF-16, and reading, compiling and checking the
// code cache of it cost a 2-line report several ms (README, Performance). Write \u00b5 in such a literal.
const wide = /[^\x00-\x7f]/.exec(cli);
if (wide) {
  const line = cli.slice(0, wide.index).split('\n').length;
  throw new Error(`${cliFile}:${line}: a non-ASCII character ${JSON.stringify(wide[0])} (write it as \\u${wide[0].charCodeAt(0).toString(16).padStart(4, '0')} in the source: see scripts/bundle.mjs)`);
}
const imports = cli.match(/\bimport\(/g)?.length ?? 0;
const externals = /\bimport\((?="(?:xz-decompress|protobufjs|fzstd|@hpcc-js\/wasm-zstd|@duckdb\/node-api|apache-arrow|hyparquet)"\))/g;
const replaced = cli.replace(externals, '$kvImp(');
if (replaced.match(/\bimport\(/g)) throw new Error(`${cliFile}: ${replaced.match(/\bimport\(/g).length} of ${imports} dynamic imports are not of an external package (see scripts/bundle.mjs)`);
// Node's built-in modules come into the bundle's modules through esbuild's ES-module wrapper, one per import:
// node:fs alone 39 times, each a new object with a getter for each of fs's hundred exports (a 2-line report
// allocated 1.1 MB of them at start, a young-generation collection's worth). bin/kvmtax.js's $kvEsm makes
// one per built-in and hands the same to every importer (they only read it). The call is padded to its old
// length, so that cli.cjs.map stays exact.
let esmCalls = 0;
const memoized = replaced.replace(/\b([A-Za-z_$][\w$]*)\(require\("(node:[\w/]+)"\),\s*1\)/g, (m, helper, id) => {
  const r = `$kvEsm(${helper},"${id}")`;
  if (r.length > m.length) throw new Error(`${cliFile}: ${m} is shorter than its replacement (see scripts/bundle.mjs)`);
  esmCalls++;
  return r + ' '.repeat(m.length - r.length);
});
if (esmCalls < 10) throw new Error(`${cliFile}: only ${esmCalls} wrapped built-in imports found (esbuild's output changed? see scripts/bundle.mjs)`);
// the build's id, which the code cache is stamped with (bin/kvmtax.js): a digest of the script, so that a
// copy (npm pack sets every mtime to 1985) keeps its cache and any other script is not given it
const buildId = createHash('sha256').update(memoized).digest('hex').slice(0, 32);
// written inside the function that bin/kvmtax.js calls (its parameters are what the script uses of a module):
// wrapped when the script is read, a 750 KB string made by concatenation was copied once more as V8 flattened
// it. The wrapper's start is on the script's first line, as it was at run time, so cli.cjs.map is unchanged.
const wrapper = '(function (exports, require, module, __filename, __dirname, __kvmtaxModuleUrl, $kvImp, $kvEsm) {';
fs.writeFileSync(cliFile, `${wrapper}${memoized}${memoized.endsWith('\n') ? '' : '\n'}})\n//# kvmtaxBuild=${buildId}\n`);

// the --jobs worker's entry: ES modules, its optional parts in chunks
await esbuild.build({
  ...common,
  entryPoints: [path.join(root, 'dist/src/pipeline/jobs-worker-main.js')],
  format: 'esm',
  splitting: true,
  outdir,
  entryNames: '[name]',
  define: { 'Intl.Segmenter': 'LazySegmenter' },
});

// The code cache: V8's compiled code for the functions that short commands run (a 2-line report, a bundled
// capture, --help), written by bin/kvmtax.js after running them in one process. It needs the wasm core
// (build/kvmtax.wasm, built before this step by `npm run build`); without a cache the CLI works, only its
// start-up is slower, so a failure here is a warning.
const cacheFile = path.join(outdir, 'cli.cjs.cache');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kvmtax-code-cache-'));
try {
  const tiny = path.join(scratch, 'tiny.txt');
  fs.writeFileSync(tiny, [
    '             vmm-193     (    188) [001] d..1.     7.334239: kvm_entry: vcpu 1, rip 0x1000',
    '             vmm-193     (    188) [001] .....     7.335242: kvm_exit: vcpu 1 reason npf rip 0x10000 info1 0x0000000200000006 info2 0x0000000000001000 intr_info 0x00000000 error_code 0x00000000',
    '',
  ].join('\n'));
  const training = [['report', tiny], ['report', path.join(root, 'traces/svm-D-small/trace.txt.xz')], ['--help']];
  const r = spawnSync(process.execPath, [path.join(root, 'bin/kvmtax.js')], {
    cwd: root,
    env: { ...process.env, KVMTAX_CODE_CACHE_TRAINING: JSON.stringify(training) },
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (r.status !== 0 || !fs.existsSync(cacheFile)) {
    fs.rmSync(cacheFile, { force: true });
    console.warn(`warning: no code cache for the CLI (start-up about 25 ms slower): ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  }
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
