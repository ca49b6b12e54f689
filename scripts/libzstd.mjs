#!/usr/bin/env node
// build/libzstd.cjs and build/libzstd.wasm: @hpcc-js/wasm-zstd (libzstd built to WebAssembly, the zstd decoder of
// src/formats/decompress.ts) with its WebAssembly kept as a file beside it.
//
// The package carries its 594 KB of WebAssembly inside its script, as base91 text of a zstd stream, and unpacks
// it in JavaScript (its own copy of fzstd) each time it loads: 52-58 ms of each load here, before a 6-18 ms
// compile, paid by every zstd trace.dat or Perfetto file above 2 MiB and by each --jobs worker reading one.
// This build step runs the package's loader once, keeps the bytes it unpacked, and writes a copy of the package
// script that reads them from build/libzstd.wasm instead (and drops the 208 KB of text). The copy is CommonJS
// (its one export statement rewritten), so that decompress.ts loads it with require from the bundle too.
//
// The package is minified: the rewrite matches its names as they are in the version installed (1.12.5). When
// they are not found, or the copy does not round-trip data as the package does, nothing is written (any
// earlier copy is removed) and decompress.ts uses the package as it is: slower, the same output.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outJs = path.join(root, 'build', 'libzstd.cjs');
const outWasm = path.join(root, 'build', 'libzstd.wasm');
const require = createRequire(import.meta.url);

function giveUp(why) {
  fs.rmSync(outJs, { force: true });
  fs.rmSync(outWasm, { force: true });
  process.stderr.write(`scripts/libzstd.mjs: ${why}; kvmtax will load @hpcc-js/wasm-zstd as it is (slower to load, the same output)\n`);
  process.exit(0);
}

const indexJs = require.resolve('@hpcc-js/wasm-zstd');
const src = fs.readFileSync(indexJs, 'utf8');

/** `what` must occur exactly once in the package script: its index. */
function once(what) {
  const i = src.indexOf(what);
  if (i < 0 || src.indexOf(what, i + 1) >= 0) giveUp(`${path.relative(root, indexJs)}: "${what.slice(0, 60)}" is not there exactly once (the package changed?)`);
  return i;
}
// var In='<base91>',ue;function Le(){return ue??=qe(Sn(In)),Je({wasmBinary:ue,locateFile:()=>""})}
const textStart = once("var In='") + "var In='".length;
const textEnd = once("',ue;function Le(){return ue??=qe(Sn(In)),Je({wasmBinary:ue,");
const unpack = once('ue??=qe(Sn(In))');
const exp = once('export{je as Zstd};');
if (!(textStart < textEnd && textEnd < unpack && unpack < exp)) giveUp('the package script is not laid out as expected');

// the bytes the package's own loader unpacks: taken as it hands them to WebAssembly.instantiate
const instantiate = WebAssembly.instantiate;
let bytes;
WebAssembly.instantiate = function (b, imports) {
  if (bytes === undefined && (b instanceof Uint8Array || b instanceof ArrayBuffer)) bytes = new Uint8Array(b instanceof Uint8Array ? b.slice() : b.slice(0));
  return instantiate.call(this, b, imports);
};
const { Zstd: Original } = await import(pathToFileURL(indexJs).href);
const original = await Original.load();
WebAssembly.instantiate = instantiate;
if (!bytes || bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) giveUp('the package did not hand WebAssembly bytes to WebAssembly.instantiate');

const helper = "function __kvmtaxLibzstdWasm(){return new Uint8Array(require('node:fs').readFileSync(require('node:path').join(__dirname,'libzstd.wasm')))}\n";
const copy = `// @hpcc-js/wasm-zstd ${JSON.parse(fs.readFileSync(path.join(path.dirname(indexJs), '..', 'package.json'), 'utf8')).version}, its WebAssembly read from libzstd.wasm (scripts/libzstd.mjs)\n` +
  "'use strict';\n" + helper +
  src.slice(0, textStart) + src.slice(textEnd, unpack) + 'ue??=__kvmtaxLibzstdWasm()' + src.slice(unpack + 'ue??=qe(Sn(In))'.length, exp) +
  'module.exports={Zstd:je};' + src.slice(exp + 'export{je as Zstd};'.length).replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');

fs.mkdirSync(path.dirname(outJs), { recursive: true });
fs.writeFileSync(outWasm, bytes);
fs.writeFileSync(outJs, copy);

// the copy must decode what the package decodes (and encode alike: the same library)
try {
  const { Zstd } = require(outJs);
  const z = await Zstd.load();
  const data = new TextEncoder().encode('kvmtax libzstd check: ' + 'vcpu 0 reason HLT rip 0xffffffff81000000 '.repeat(2000));
  const packed = original.compress(data);
  const a = z.decompress(packed), b = original.decompress(z.compress(data));
  if (a.length !== data.length || b.length !== data.length || a.some((x, i) => x !== data[i]) || b.some((x, i) => x !== data[i])) giveUp('the copy does not round-trip data as the package does');
} catch (e) {
  giveUp(`the copy does not load (${e.message})`);
}
console.log(`build/libzstd.cjs (${copy.length} bytes) and build/libzstd.wasm (${bytes.length} bytes) from ${path.relative(root, indexJs)}`);
