#!/usr/bin/env node
/**
 * Child process of test/pathological-bounds.test.ts: writes a generated raw ftrace trace of about SIZE_MB
 * to FILE (1 MiB at a time), analyzes it with the built pipeline (dist/) and prints one JSON line:
 * the peak resident set of this process, the events read, the skips and the dictionary overflow.
 *
 *   node fuzz/rss-child.mjs events|names SIZE_MB FILE
 *     events: two vCPU threads exiting and entering (valid events, few names)
 *     names:  every line an event with a new name (garbage names: the dictionary must stop growing)
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [mode, sizeMb, file] = process.argv.slice(2);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { analyze } = await import(path.join(root, 'dist', 'src', 'pipeline', 'analyze.js'));

const fd = fs.openSync(file, 'w');
fs.writeSync(fd, '# tracer: nop\n#\n');
const target = Number(sizeMb) * 2 ** 20;
let written = 0, n = 0, ts = 1_000_000;
const REASONS = ['msr', 'io', 'hlt', 'npf', 'cpuid'];
while (written < target) {
  let chunk = '';
  while (chunk.length < 2 ** 20) {
    const tid = 100 + (n & 1);
    const t = `${Math.floor(ts / 1e6)}.${String(ts % 1e6).padStart(6, '0')}`;
    if (mode === 'names') {
      chunk += `             vmm-${tid}     (    100) [00${n & 1}] d..1. ${t}: ev_${n.toString(36)}_garbage: x=${n}\n`;
    } else {
      chunk += (n >> 1) % 2 === 0
        ? `             vmm-${tid}     (    100) [00${n & 1}] d..1. ${t}: kvm_exit: vcpu ${n & 1} reason ${REASONS[(n >> 2) % 5]} rip 0xffffffff81000000 info1 0x0 info2 0x0 intr_info 0x00000000 error_code 0x00000000\n`
        : `             vmm-${tid}     (    100) [00${n & 1}] d..1. ${t}: kvm_entry: vcpu ${n & 1}, rip 0xffffffff81000000\n`;
    }
    n++;
    ts += 3;
  }
  fs.writeSync(fd, chunk);
  written += chunk.length;
}
fs.closeSync(fd);
const before = process.resourceUsage().maxRSS;
const r = await analyze([file]);
fs.rmSync(file, { force: true });
console.log(JSON.stringify({
  bytes: written, lines: n, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024), rssBeforeMb: Math.round(before / 1024),
  events: r.quality.events_read, exits: r.totals.exits_seen, handled: r.totals.exits_handled, skipped: r.quality.skipped,
  overflow: r.quality.dictionary_overflow, names: Object.keys(r.quality.events_by_name).length, notes: r.notes,
}));
