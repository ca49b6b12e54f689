#!/usr/bin/env node
// kvmtax: the CLI is compiled to dist/ and bundled into one script, dist/bundle/cli.cjs (npm run build;
// scripts/bundle.mjs). It is compiled here with V8's code cache, dist/bundle/cli.cjs.cache, which the build
// writes after running a few short commands: parsing and compiling the bundle was most of a short run's
// start-up (a 2-line report took node + 93 ms from ES module chunks, + 44 from this script and its cache).
//
// The cache is used only for the cli.cjs it was made from (the build id at the script's end, a digest of it,
// is stamped in front of the cache), and V8 itself refuses one from another Node or V8 flags; without a
// usable cache the bundle is compiled as usual. KVMTAX_CODE_CACHE_TRAINING (the build's, a JSON list of
// argument lists) runs those commands in one process and writes the cache at exit.
//
// This script is CommonJS (bin/package.json says so; the package is ES modules): an ES module entry starts
// Node's ES module loader before anything else, about 10 ms of every run (`--help` and a 2-line report, medians
// of 15 alternating runs: 0.192 -> 0.181 s and 0.200 -> 0.191 s, `node -e 0` 0.110 s).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { createRequire, isBuiltin } = require('node:module');
const { pathToFileURL } = require('node:url');

// V8 stamps its code cache with a hash of its flags: none is set before the cache is checked or made (the
// memory budget's young-generation flag is set later, by the runs that grow large: src/core/young-gen.ts)

const dir = path.join(__dirname, '..', 'dist', 'bundle');
const file = path.join(dir, 'cli.cjs');
const cacheFile = file + '.cache';
const training = process.env.KVMTAX_CODE_CACHE_TRAINING;

let source;
try {
  // cli.cjs is ASCII (scripts/bundle.mjs checks): read as bytes and made a one-byte string, it is copied once
  // less than through the UTF-8 decoder (750 KB, paged in on every run)
  const bytes = fs.readFileSync(file);
  source = bytes.latin1Slice(0, bytes.length);
} catch (e) {
  process.stderr.write(`kvmtax: ${file} cannot be read (${e.code ?? e.message}): run "npm run build" first\n`);
  process.exit(1);
}
// the build's id, the last line of cli.cjs (a digest of the script, scripts/bundle.mjs)
const build = /\/\/# kvmtaxBuild=([0-9a-f]+)\n$/.exec(source.slice(-80))?.[1];
// the stamp's line is padded to 16 bytes: V8 copies cache data that is not 8-byte aligned (767 KB more to copy
// and page in on every run)
const stampLine = JSON.stringify({ build });
const stamp = Buffer.from(stampLine.padEnd(Math.ceil((stampLine.length + 1) / 16) * 16 - 1) + '\n');

/** The cache when it was made from this cli.cjs, else undefined. */
function usableCache() {
  if (training || !build) return undefined;
  let bytes;
  try {
    bytes = fs.readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  return bytes.length > stamp.length && bytes.subarray(0, stamp.length).equals(stamp) ? bytes.subarray(stamp.length) : undefined;
}

const cachedData = usableCache();
// cli.cjs is a function expression (scripts/bundle.mjs wraps the bundle in it)
const script = new vm.Script(source, {
  filename: file,
  cachedData,
});
// tests: whether this run used the cache (test/cli/code-cache.test.ts)
if (process.env.KVMTAX_CODE_CACHE_STATUS) process.stderr.write(`code cache: ${!cachedData ? 'none' : script.cachedDataRejected ? 'refused by V8' : 'used'}\n`);
const cli = { exports: {} };
// Node's built-in modules straight from process.getBuiltinModule (the first require through a CommonJS
// loader cost about 3 ms), packages through a require beside cli.cjs
let packages;
const requireFromBundle = (id) => (isBuiltin(id) ? process.getBuiltinModule(id) : (packages ??= createRequire(file))(id));
// the bundle's dynamic imports of packages (scripts/bundle.mjs): resolved from here, as from dist/bundle
const importPackage = (id) => import(id);
// esbuild's ES-module wrapper of a built-in module, made once per module and shared (scripts/bundle.mjs)
const esmOf = new Map();
const esmWrapped = (wrap, id) => {
  let m = esmOf.get(id);
  if (m === undefined) esmOf.set(id, (m = wrap(requireFromBundle(id), 1)));
  return m;
};
script.runInThisContext()(cli.exports, requireFromBundle, cli, file, dir, pathToFileURL(file).href, importPackage, esmWrapped);

if (training) {
  // written at exit (--help ends the process), whole or not at all, and only when every command succeeded
  let failed = false;
  process.on('exit', () => {
    if (failed) return;
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([stamp, script.createCachedData()]));
    fs.renameSync(tmp, cacheFile);
  });
  (async () => {
    for (const args of JSON.parse(training)) {
      const code = await cli.exports.main(args);
      if (code !== 0) {
        failed = true;
        process.stderr.write(`kvmtax: code cache training: ${args.join(' ')} exited ${code}\n`);
        process.exit(code);
      }
    }
  })();
} else {
  cli.exports.run();
}
