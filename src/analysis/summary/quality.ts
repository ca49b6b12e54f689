/**
 * Data quality: events per name, unpaired exits and entries, lines read, skipped input by kind with its
 * first place, lost events, and the notes that say what a report cannot measure from this trace.
 */
import * as K from '../../../assembly/constants.js';
import type { CoreTables, ThreadRec } from '../../wasm/core.js';
import { ISA_ARM64, ISA_RISCV, ISA_SVM, ISA_VMX } from '../../core/reasons.js';
import { SKIP_KINDS } from '../../core/skip-kinds.js';
import { cmp } from '../numbers.js';
import type { InputInfo, Quality, SkipRow } from '../types.js';
import type { Spans } from './units.js';

export interface QualityParts {
  quality: Quality;
  /** events per name, the most frequent first */
  eventsByName: Record<string, number>;
  isa: 'vmx' | 'svm' | 'arm64' | 'riscv' | 'unknown';
  notes: string[];
}

export function quality(
  t: CoreTables, inputs: InputInfo[], seenAll: number, reasonNotRecorded: boolean, isaOf: (file: number) => number, sp: Spans,
): QualityParts {
  const notes: string[] = [];
  const { spanNs, firstTs, lastTs } = sp;
  const byName: Record<string, number> = {};
  t.nameCounts.forEach((n, i) => { if (n > 0) byName[t.strings[i]!] = n; });
  const sorted: Record<string, number> = {};
  for (const k of Object.keys(byName).sort((a, b) => byName[b]! - byName[a]! || cmp(a, b))) sorted[k] = byName[k]!;
  const un = { exits_pending_at_end: 0, exits_without_entry: 0, entries_without_exit: 0, leading_entries: 0, lost_resets: 0, backwards: 0, jump_resets: 0 };
  for (const th of t.threads as ThreadRec[]) {
    un.exits_pending_at_end += th.pendingAtEnd;
    un.exits_without_entry += th.exitNoEntry;
    un.entries_without_exit += th.entryNoExit;
    un.leading_entries += th.leadingEntry;
    un.lost_resets += th.lostResets;
    un.backwards += th.backwards;
    un.jump_resets += th.jumpDrops;
  }
  const lines = inputs.every((f) => f.lines !== undefined) ? inputs.reduce((s, f) => s + (f.lines ?? 0), 0) : null;
  const skipped: SkipRow[] = t.skips.map((s) => {
    const f = inputs[s.file];
    const where = f ? (f.lines !== undefined ? `${f.file}:${s.line}:${s.col}` : `${f.file}: byte ${s.line}`) : '?';
    return { kind: SKIP_KINDS[s.kind]?.name ?? String(s.kind), what: SKIP_KINDS[s.kind]?.what ?? 'skipped', count: s.count, first: where, excerpt: s.excerpt };
  });
  const exitEntry = seenAll > 0 || t.threads.some((th) => th.entries > 0);
  const unreadKvm = t.skips.filter((s) => s.kind === K.SKIP_KVM_UNREADABLE || s.kind === K.SKIP_EXIT_NO_REASON || s.kind === K.SKIP_ENTRY_BAD);
  if (!exitEntry && unreadKvm.length > 0) {
    // kvm_exit text that could not be read is never "no events"
    const n = unreadKvm.reduce((a, s) => a + s.count, 0);
    const first = skipped.find((s) => s.kind === (SKIP_KINDS[unreadKvm[0]!.kind]?.name ?? ''))?.first ?? '?';
    notes.push(`WARNING: the trace has ${n} kvm_exit/kvm_entry line${n === 1 ? '' : 's'} that could not be read (first at ${first}), and no exit was read: ` +
      'the exits are there but this report cannot count or time them (see the skipped lines below)');
  } else if (!exitEntry) {
    notes.push('the trace has no kvm_exit/kvm_entry events: exit reasons, handling times and the exit tax cannot be measured from it' +
      (Object.keys(sorted).some((n) => n.startsWith('kvm_')) ? ' (its other kvm events are counted below)' : ''));
  }
  if (reasonNotRecorded) {
    notes.push('some exits were recorded without their reason (Perfetto\'s typed kvm_exit carries only arm64 fields): per-vCPU exit counts, handling and guest times are exact, but the split by reason is not, and their halt time counts as overhead (the exit tax is an upper bound); record kvm:kvm_exit as a generic event to keep the reasons');
  }
  const entries = t.threads.reduce((n, th) => n + th.entries, 0);
  if (seenAll > 0 && entries === 0) {
    notes.push('the trace has kvm_exit events but no kvm_entry: exits are counted, but handling times (and the exit tax) need kvm_entry too');
  }
  if (t.dictOverflowed) notes.push(`${t.dictOverflowed} events carried names beyond the ${1 << 16}-name dictionary limit and were counted as "(too many names)"`);
  const isaAll = inputs.map((_, i) => isaOf(i));
  const isa = isaAll.every((x) => x === ISA_VMX) ? 'vmx' : isaAll.every((x) => x === ISA_SVM) ? 'svm'
    : isaAll.every((x) => x === ISA_ARM64) ? 'arm64' : isaAll.every((x) => x === ISA_RISCV) ? 'riscv' : 'unknown';

  const lostMarkers = inputs.reduce((s, f) => s + f.lost_markers, 0);
  const lostEvents = inputs.reduce((s, f) => s + f.lost_events, 0);
  if (lostMarkers > 0) notes.push(`events were lost (${lostMarkers} markers${lostEvents ? `, ${lostEvents} events` : ''}): exits and entries across each gap are not paired`);
  return {
    quality: {
      events_read: inputs.reduce((s, f) => s + f.events, 0), lines_read: lines, events_by_name: sorted,
      exit_entry_present: exitEntry, first_ts: firstTs, last_ts: lastTs, span_ns: spanNs, unpaired: un,
      lost: { markers: lostMarkers, events: lostEvents }, skipped, dictionary_overflow: t.dictOverflowed,
    },
    eventsByName: sorted, isa, notes,
  };
}
