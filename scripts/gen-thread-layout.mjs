#!/usr/bin/env node
// The thread record of the WebAssembly core, defined once: this list. It generates both sides:
//   assembly/constants.ts  the TH_* byte offsets and TH_STRIDE (between the GENERATED markers), which
//                          assembly/analysis.ts reads and writes and TypeScript imports;
//   src/wasm/thread-layout.ts  THREAD_FIELDS (name, offset, type) and the ThreadRec interface that
//                          Core.tables() fills.
// The TH_ name of a field is its name in UPPER_SNAKE case. Offsets follow the list, each field aligned
// to its size. Run after changing the list:  node scripts/gen-thread-layout.mjs
// (--check, run by test/wasm/thread-layout.test.ts, fails when a generated file is stale.)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** [name, type, meaning]; ts: false for fields only the core reads. Grouped by concern. */
const GROUPS = [
  ['who the thread is', [
    ['file', 'i32', 'input file index'],
    ['tid', 'i32', 'host thread id'],
    ['tgid', 'i32', 'its process (the VM), -1 unknown'],
    ['vcpu', 'i32', 'vCPU id, -1 unknown'],
    ['comm', 'i32', 'dictionary id of its name, -1 unknown'],
    ['replaced', 'i32', '1 when a new process reused this tid: lookups go to the newer record'],
    ['lastCpu', 'i32', 'host CPU of its last event'],
    ['cpuMask', 'i64', 'host CPUs it ran on (bit n: CPU n; CPUs 63 and up share bit 63)'],
    ['migrations', 'i32', 'times it was seen on another CPU than before'],
    ['events', 'i32', 'events of any kind on this thread'],
    ['kvmEvents', 'i32', 'kvm events other than exit/entry (msr, pio, wakeup, ...)'],
    ['lapic', 'i32', 'kvm_wait_lapic_expire events'],
  ]],
  ['pairing kvm_exit with kvm_entry', [
    ['state', 'i32', 'ST_*'],
    ['pendReason', 'i32', 'reason key of the pending exit'],
    ['pendBin', 'i32', 'bin index of the pending exit\'s reason (saves a lookup at its entry)', false],
    ['pendFlags', 'i32', 'EXITF_* of the pending exit'],
    ['pendSub', 'i32', 'sub-key (msr/port/mmio dictionary id) of the pending exit, -1 none'],
    ['pendTs', 'i64', 'time of the pending exit'],
    ['pendWhere', 'i64', 'line or record of the pending exit'],
    ['pendGuest', 'i64', 'guest time before the pending exit (-1 unknown)'],
    ['pendUserTs', 'i64', 'first kvm_userspace_exit of the pending exit (I64 MIN: none)'],
    ['pendPreemptNs', 'i64', 'time the thread spent switched out runnable (preempted) inside the pending exit, before any kvm_userspace_exit'],
    ['preemptOutTs', 'i64', 'when the thread was switched out runnable while handling an exit (I64 MIN: not now)'],
    ['pendRip', 'i64', 'guest rip of the pending exit (kept with --by rip)', false],
    ['pendGpa', 'i64', 'guest-physical address of the pending NPF exit (kept with --by gpa; -1 none; -2 an EPT violation waiting for its kvm_page_fault)', false],
    ['pendInfo1', 'i64', 'info1 of the pending exit (rows: EV_EXIT_INFO)', false],
    ['pendInfo2', 'i64', 'info2 of the pending exit (rows: EV_EXIT_INFO)', false],
    ['pendCpu', 'i32', 'host CPU of the pending exit (rows)', false],
    ['pendDetail', 'i32', 'EXD_* bits of the pending exit (rows: what its rendering carried)', false],
    ['lastEntryTs', 'i64', 'time of the last kvm_entry'],
    ['guest', 'i64', 'sum of guest intervals (entry -> next exit)'],
    ['host', 'i64', 'sum of handled exits\' durations (exit -> next entry)'],
    ['firstTs', 'i64', 'first kvm_exit/kvm_entry'],
    ['lastTs', 'i64', 'last kvm_exit/kvm_entry'],
    ['wall', 'i64', 'wall time: the sum of forward steps between the thread\'s kvm_exit/kvm_entry events'],
    ['prevTs', 'i64', 'the thread\'s previous kvm_exit/kvm_entry timestamp (in file order)'],
    ['exits', 'i32', 'kvm_exit events'],
    ['handled', 'i32', 'exits followed by their kvm_entry'],
    ['entries', 'i32', 'kvm_entry events'],
    ['leadingEntry', 'i32', '1 when the thread\'s first kvm event was an entry'],
    ['entryNoExit', 'i32', 'entries after an entry (their exit is missing)'],
    ['exitNoEntry', 'i32', 'exits followed by another exit'],
    ['lostResets', 'i32', 'pairing states dropped because events were lost on the thread\'s CPU'],
    ['backwards', 'i32', 'entries earlier than their exit (clock went backwards)'],
    ['pendingAtEnd', 'i32', 'set when the file ends: 1 if an exit was still pending'],
    ['jumps', 'i32', 'times its timestamps jumped back by more than JUMP_BACK (a second capture?)'],
    ['jumpDrops', 'i32', 'exits pending when the clock jumped back (never paired)'],
  ]],
  ['halts and halt polling (kvm_vcpu_wakeup, kvm_halt_poll_ns)', [
    ['haltWakes', 'i32', 'wake-ups of this thread (kvm_vcpu_wakeup)'],
    ['wakePoll', 'i32', 'kvm_vcpu_wakeup "poll"'],
    ['wakeWait', 'i32', 'kvm_vcpu_wakeup "wait"'],
    ['wakeInvalid', 'i32', '"polling invalid"'],
    ['wakePollNs', 'i64', 'halt time of "poll" wake-ups'],
    ['wakeWaitNs', 'i64', 'halt time of "wait" wake-ups'],
    ['wakeTs', 'i64', 'last kvm_vcpu_wakeup not yet followed by kvm_entry (I64 MIN: none)'],
    ['hpWindow', 'i64', 'the vCPU\'s halt_poll_ns now (from kvm_halt_poll_ns; KVM starts it at 0)'],
    ['hpStartWindow', 'i64', 'the window the halt in progress started with (old of its grow/shrink)'],
    ['hpFlags', 'i32', 'HPF_*'],
    ['hpAttempted', 'i32', 'halts that polled (window > 0): halt_attempted_poll'],
    ['hpSuccess', 'i32', '"poll" wake-ups of halts that polled: halt_successful_poll'],
    ['hpInvalid', 'i32', 'successful polls whose wake-up was invalid: halt_poll_invalid'],
    ['hpSuccessNs', 'i64', 'halt time of successful polls: halt_poll_success_ns'],
    ['hpFailNs', 'i64', 'polling part of failed polls (the window): halt_poll_fail_ns'],
    ['hpWaitNs', 'i64', 'blocked part of waits: halt_wait_ns'],
    ['hpGrows', 'i32', 'window grows'],
    ['hpShrinks', 'i32', 'window shrinks'],
    ['hpFlips', 'i32', 'a grow after a shrink or a shrink after a grow'],
    ['hpLastDirection', 'i32', 'direction of the last change: 1 grow, 2 shrink'],
    ['hpMax', 'i64', 'largest window seen'],
    ['hpWinTs', 'i64', 'when the window last changed'],
    ['hpWinArea', 'f64', 'integral of the window over time (for its time-weighted mean)'],
    ['hpFirstTs', 'i64', 'when the window was first known (first kvm_halt_poll_ns)'],
    ['preWindowWakes', 'i32', 'wake-ups before the first kvm_halt_poll_ns (window not yet known)'],
    ['preWindowPolls', 'i32', 'of those, "poll" wake-ups'],
    ['preWindowWaits', 'i32', 'of those, "wait" wake-ups'],
    ['preWindowInvalid', 'i32', 'of those, invalid ones'],
    ['preWindowPollNs', 'i64', 'halt time of those "poll" wake-ups'],
    ['preWindowWaitNs', 'i64', 'halt time of those "wait" wake-ups'],
  ]],
  ['scheduling (sched_switch, sched_wakeup)', [
    ['switchIn', 'i32', 'times switched in'],
    ['sleeps', 'i32', 'switched out not runnable (blocked)'],
    ['preemptGuest', 'i32', 'preempted (switched out runnable) while its last kvm event was kvm_entry'],
    ['preemptHost', 'i32', 'preempted while handling an exit'],
    ['schedWakeTs', 'i64', 'sched_wakeup of this thread while in the host, not yet followed by kvm_entry'],
    ['runnableTs', 'i64', 'runnable since (woken or preempted), not yet switched in'],
  ]],
  ['pause-loop exiting (kvm_ple_window_update)', [
    ['pleGrows', 'i32', 'window grows'],
    ['pleShrinks', 'i32', 'window shrinks'],
    ['pleLast', 'i32', 'last PLE window'],
  ]],
  ['timeline (exits per time bucket)', [
    ['tlPtr', 'i32', 'byte offset of the thread\'s TL_BUCKETS u32 exit counts (0: none)', false],
    ['tlWidth', 'i64', 'bucket width (ticks), set when the file ends'],
    ['tlOrigin', 'i64', 'origin (the file\'s first timestamp)'],
  ]],
  ['merging --jobs slices: what came before the thread\'s first kvm_exit/kvm_entry (it may belong to an exit pending at the end of the previous slice), and before its first kvm event at all (a later slice follows every thread\'s scheduling before it knows which are vCPUs)', [
    ['preExitWakes', 'i32', 'kvm_vcpu_wakeup before the first exit/entry'],
    ['preExitWakePolls', 'i32', 'of those, "poll" wake-ups'],
    ['preExitPollNs', 'i64', 'their "poll" halt time'],
    ['preExitWaitNs', 'i64', 'their "wait" halt time'],
    ['preExitSub', 'i32', 'first msr/pio/mmio key before the first exit/entry, -1 none'],
    ['preExitPreempts', 'i32', 'preemptions before the first exit/entry'],
    ['preExitSchedWakeTs', 'i64', 'first sched_wakeup before the first exit/entry (I64 MIN: none)'],
    ['hpFirstOldWindow', 'i64', 'the old window of the first kvm_halt_poll_ns (the window the thread had before)'],
    ['hpFirstDirection', 'i32', 'direction of the first kvm_halt_poll_ns (1 grow, 2 shrink)'],
    ['preKvmSwitchIns', 'i32', 'switched in before the thread\'s first kvm event'],
    ['preKvmSleeps', 'i32', 'slept before the thread\'s first kvm event'],
    ['preKvmPreempts', 'i32', 'preempted before the thread\'s first kvm event'],
    ['firstInTs', 'i64', 'its first switch-in in the slice, whose run delay the merge settles with the runnable time the slices before it ended with (I64 MIN: none)'],
    ['firstInRunnable', 'i64', 'the slice\'s own runnable time at that switch-in (I64 MIN: none)'],
    ['firstInPk', 'i32', '1 when that switch-in came before the thread\'s first kvm event in the slice'],
    ['preExitUserTs', 'i64', 'first kvm_userspace_exit before the first exit/entry (I64 MIN: none)'],
    ['preExitPreemptNs', 'i64', 'time switched out runnable before the first exit/entry, from switch-outs before any kvm_userspace_exit'],
    ['preExitPreemptOutTs', 'i64', 'such a switch-out not yet followed by its switch-in (I64 MIN: none)'],
    ['preWindowListed', 'i32', 'in a later slice: how many of its wake-ups before its first kvm_halt_poll_ns the core kept one by one (preWakes), for the merge to count them as one core would have'],
  ]],
  ['the core\'s own shortcuts', [
    ['exitBinKey', 'i32', 'reason key of the thread\'s last kvm_exit: most exits repeat a recent reason', false],
    ['exitBin', 'i32', 'bin index of that reason + 1, 0: none yet (saves the hash lookup when the next exit has it too)', false],
    ['subBinKey', 'i32', 'bin key (sub-key | SUBKEY_FLAG) of the thread\'s last msr, pio, mmio, wfx or hvc event: the same few come again and again', false],
    ['subBin', 'i32', 'bin index of that sub-key + 1, 0: none yet (the event and its exit\'s entry then skip the hash lookup)', false],
    ['metricBins', 'i32x12', 'bin index + 1 of each metric bin M_* (slot -2 - M_*), 0: none yet (a halt, a wake-up or a switch-in updates one to four of them: no hash lookup each)', false],
  ]],
];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const snake = (n) => 'TH_' + n.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
const size = { i32: 4, i64: 8, f64: 8 };
/** A type's (alignment, size): 'i32', 'i64', 'f64', or an array of them, 'i32x12' (core-only). */
const sizeOf = (type) => {
  const m = /^(i32|i64|f64)(?:x(\d+))?$/.exec(type);
  if (!m) throw new Error(`unknown field type ${type}`);
  return [size[m[1]], size[m[1]] * Number(m[2] ?? 1)];
};
let off = 0;
const fields = [];
for (const [, list] of GROUPS) {
  for (const [name, type, doc, ts = true] of list) {
    const [align, bytes] = sizeOf(type);
    if (ts && bytes !== align) throw new Error(`${name}: an array field is the core's own (ts: false)`);
    off = Math.ceil(off / align) * align;
    fields.push({ name, type, doc, ts, off });
    off += bytes;
  }
}
const stride = Math.ceil(off / 16) * 16;
if (new Set(fields.map((f) => f.name)).size !== fields.length) throw new Error('a field name is used twice');

const BEGIN = '// ---- GENERATED by scripts/gen-thread-layout.mjs: the thread record (edit the list there) ----';
const END = '// ---- end of the generated thread record ----';
let asBlock = `${BEGIN}\n// thread table: one record per (file, host thread), TH_STRIDE bytes\nexport const TH_STRIDE = ${stride};\n`;
let i = 0;
for (const [title, list] of GROUPS) {
  asBlock += `// ${title}\n`;
  for (let k = 0; k < list.length; k++, i++) {
    const f = fields[i];
    asBlock += `export const ${snake(f.name)} = ${f.off}; // ${f.type} ${f.doc}\n`;
  }
}
asBlock += END;

const tsFields = fields.filter((f) => f.ts);
const tsType = (t) => (t === 'i64' ? 'bigint' : 'number');
let ts = `// GENERATED by scripts/gen-thread-layout.mjs from its list of the thread record: do not edit.
/**
 * The core's thread record as TypeScript reads it: THREAD_FIELDS gives each field's name, byte offset
 * (assembly/constants.ts TH_*) and type; Core.tables() fills one ThreadRec per record.
 */
import * as K from '../../assembly/constants.js';

export const THREAD_FIELDS: ReadonlyArray<readonly [keyof ThreadRec, number, 'i32' | 'i64' | 'f64']> = [
${tsFields.map((f) => `  ['${f.name}', K.${snake(f.name)}, '${f.type}'],`).join('\n')}
];

export interface ThreadRec {
`;
i = 0;
for (const [title, list] of GROUPS) {
  ts += `  // ${title.split(':')[0]}\n`;
  for (let k = 0; k < list.length; k++, i++) {
    const f = fields[i];
    if (f.ts) ts += `  /** ${f.doc} */\n  ${f.name}: ${tsType(f.type)};\n`;
  }
}
ts += `  /** exits per timeline bucket (TL_BUCKETS), when the thread had exits */
  timeline?: Uint32Array;
  /** in a later slice: its wake-ups before its first kvm_halt_poll_ns, one by one (halt ns, PW_* flags), in order */
  preWakes?: { ns: BigInt64Array; flags: Uint8Array };
}
`;

const constantsPath = path.join(root, 'assembly/constants.ts');
const constants = fs.readFileSync(constantsPath, 'utf8');
const a = constants.indexOf(BEGIN);
const b = constants.indexOf(END);
if (a < 0 || b < 0) throw new Error(`${constantsPath}: the GENERATED markers are missing`);
const newConstants = constants.slice(0, a) + asBlock + constants.slice(b + END.length);
const tsPath = path.join(root, 'src/wasm/thread-layout.ts');
const outputs = [[constantsPath, newConstants], [tsPath, ts]];
if (process.argv.includes('--check')) {
  for (const [p, text] of outputs) {
    if (!fs.existsSync(p) || fs.readFileSync(p, 'utf8') !== text) { console.error(`${p} is stale: run node scripts/gen-thread-layout.mjs`); process.exit(1); }
  }
} else {
  for (const [p, text] of outputs) fs.writeFileSync(p, text);
  console.log(`thread record: ${fields.length} fields, ${stride} bytes`);
}
