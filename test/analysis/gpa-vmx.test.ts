/**
 * --by gpa on VMX: an EPT violation's kvm_exit names no address (its info1 is the exit qualification); the
 * kvm_page_fault that handle_ept_violation emits right after it does (fault_address). Crafted from the real shapes:
 *   - Linux 4.18, trace-cmd report (public snippet vmx-4.18-tracecmd-wrapped-unknown-comm-kvm-list-2020.txt):
 *       kvm_exit:             reason EPT_VIOLATION rip 0xfff0 info 784 0
 *       kvm_page_fault:       address fffffff0 error_code 784         (print fmt "address %lx error_code %x")
 *   - Linux 6.x (tracefs print fmt "vcpu %u rip 0x%lx address 0x%016llx error_code 0x%llx"):
 *       kvm_page_fault: vcpu 0 rip 0xffffffff81000000 address 0x00000000fee00f00 error_code 0x0000000000000181
 * and the binary decoder on the real 6.18 tracefs format of kvm_page_fault (../shared/captures/pvm-formats).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline/analyze.js';
import { parseEventFormat } from '../../src/formats/tracefs-format.js';
import { KvmEventDecoder } from '../../src/formats/kvm-events.js';
import { EV_EXIT, EV_EXIT_INFO, EV_PAGE_FAULT, EXD_INFO, EXD_RIP } from '../../assembly/constants.js';
import { CollectSink } from '../support/collect-sink.js';
import { SHARED, TRACES, tmpTrace } from '../support/paths.js';

const H = (t: string) => `  qemu-system-x86-4242  [003]   ${t}:`;
const LINES = [
  `${H('100.000000')} kvm_entry:            vcpu 0 rip 0xfff0`,
  // 1: old renderings, 30 us, page 0xfffff000
  `${H('100.000100')} kvm_exit:             reason EPT_VIOLATION rip 0xfff0 info 784 0`,
  `${H('100.000102')} kvm_page_fault:       address fffffff0 error_code 784`,
  `${H('100.000130')} kvm_entry:            vcpu 0 rip 0xfff0`,
  // 2: 6.x renderings, 10 us, page 0xfee00000
  `${H('100.000200')} kvm_exit:             vcpu 0 reason EPT_VIOLATION rip 0xffffffff81000000 info1 0x0000000000000181 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000`,
  `${H('100.000201')} kvm_page_fault:       vcpu 0 rip 0xffffffff81000000 address 0x00000000fee00f00 error_code 0x0000000000000181`,
  `${H('100.000210')} kvm_entry:            vcpu 0 rip 0xffffffff81000000`,
  // 3: the page fault mail-wrapped after "address" (as in the 4.18 snippet), 5 us, page 0xfffff000 again
  `${H('100.000300')} kvm_exit:             reason EPT_VIOLATION rip 0xfff0 info 784 0`,
  `${H('100.000301')} kvm_page_fault:       address`,
  'fffffff8 error_code 784',
  `${H('100.000305')} kvm_entry:            vcpu 0 rip 0xfff0`,
  // 4: a #PF intercepted under shadow paging: its kvm_page_fault address is a guest-virtual one, not counted
  `${H('100.000400')} kvm_exit:             reason EXCEPTION_NMI rip 0x401000 info 7f0000001000 80000b0e`,
  `${H('100.000401')} kvm_page_fault:       address 7f0000001000 error_code 6`,
  `${H('100.000420')} kvm_entry:            vcpu 0 rip 0x401000`,
  // 5: an EPT violation whose kvm_page_fault was not recorded: no page
  `${H('100.000500')} kvm_exit:             reason EPT_VIOLATION rip 0xfff0 info 784 0`,
  `${H('100.000510')} kvm_entry:            vcpu 0 rip 0xfff0`,
  '',
];

describe('VMX EPT violations by guest-physical page (kvm_page_fault)', () => {
  it('crafted: old, new and wrapped renderings, by 4 KiB page (hand-computed)', async () => {
    const f = tmpTrace(LINES.join('\n'));
    const r = await analyze([f], { gpas: true });
    // page 0xfffff000: exits 1 and 3 (30 + 5 us); page 0xfee00000: exit 2 (10 us); the #PF and the unmatched exit: none
    expect(r.gpas!.pages.map((p) => [p.gpa, p.exits, p.total_ns])).toEqual([['0xfffff000', 2, 35000], ['0xfee00000', 1, 10000]]);
    expect(r.gpas!.distinct_pages).toBe(2);
    expect(r.gpas!.vcpus.map((v) => [v.vcpu, v.tid, v.exits])).toEqual([[0, 4242, 3]]);
    expect(r.gpas!.note).toMatch(/EPT/);
    // the four kvm_page_fault events (one of them wrapped) are read, none skipped
    expect(r.quality.events_by_name.kvm_page_fault).toBe(4);
    expect(r.quality.skipped).toEqual([]);
    // without --by gpa the report is the same but for the gpas member
    const plain = await analyze([f]);
    const { gpas: _g, ...withGpas } = r;
    void _g;
    expect(JSON.stringify(plain)).toBe(JSON.stringify(withGpas));
  });

  it('the public 4.18 snippet: its wrapped kvm_page_fault is one event, not a skipped line', async () => {
    const f = path.join(SHARED, 'public-traces/snippets/vmx-4.18-tracecmd-wrapped-unknown-comm-kvm-list-2020.txt');
    if (!fs.existsSync(f)) return void console.warn(`skipped: ${f} is absent`);
    const r = await analyze([f], { gpas: true });
    expect(r.quality.events_by_name.kvm_page_fault).toBe(1);
    expect(r.quality.skipped.filter((s) => /page_fault|fffffff0/.test(s.excerpt))).toEqual([]);
    // its EPT violation has no kvm_entry after it in the excerpt: not handled, so no page
    expect(r.gpas!.pages).toEqual([]);
  });

  const FORMATS = path.join(SHARED, 'captures', 'pvm-formats');
  it.skipIf(!fs.existsSync(FORMATS))('binary (trace.dat, perf.data): kvm_page_fault of the real 6.18 format gives its fault_address; kvm_exit its info words when rows want them', () => {
    const pf = parseEventFormat(fs.readFileSync(path.join(FORMATS, 'kvm_page_fault.format'), 'utf8'), 'kvm');
    const ex = parseEventFormat(fs.readFileSync(path.join(FORMATS, 'kvm_exit.format'), 'utf8'), 'kvm');
    expect(pf.fields.map((x) => x.name)).toEqual(['vcpu_id', 'guest_rip', 'fault_address', 'error_code']);
    const rec = (fmt: typeof pf, vals: Record<string, bigint>) => {
      let size = 0;
      for (const x of [...fmt.commonFields, ...fmt.fields]) size = Math.max(size, x.offset + x.size);
      const b = new Uint8Array(size);
      const v = new DataView(b.buffer);
      for (const [k, val] of Object.entries({ common_type: BigInt(fmt.id), common_pid: 500n, ...vals })) {
        const x = fmt.field(k)!;
        if (x.size === 8) v.setBigUint64(x.offset, BigInt.asUintN(64, val), true);
        else if (x.size === 4) v.setUint32(x.offset, Number(val), true);
        else if (x.size === 2) v.setUint16(x.offset, Number(val), true);
        else v.setUint8(x.offset, Number(val));
      }
      return b;
    };
    for (const detail of [false, true]) {
      const sink = new CollectSink();
      Object.assign(sink, { exitDetail: detail });
      const dec = new KvmEventDecoder(sink, true);
      dec.addFormat(pf);
      dec.addFormat(ex);
      const feed = (b: Uint8Array, n: number) => dec.decode(b, new DataView(b.buffer), 0, b.length, 1000n + BigInt(n), 3, () => 400, n);
      feed(rec(ex, { exit_reason: 48n, guest_rip: 0xffffffff81000000n, isa: 1n, info1: 0x181n, info2: 0n, vcpu_id: 2n }), 1);
      feed(rec(pf, { vcpu_id: 2n, guest_rip: 0xffffffff81000000n, fault_address: 0xfee00f00n, error_code: 0x181n }), 2);
      const kinds = sink.events.map((e) => e.kind);
      expect(kinds).toEqual(detail ? [EV_EXIT, EV_EXIT_INFO, EV_PAGE_FAULT] : [EV_EXIT, EV_PAGE_FAULT]);
      const p = sink.events.at(-1)!;
      expect([p.tid, p.vcpu, p.a, p.b, p.cpu]).toEqual([500, 2, 0xfee00f00n, 0x181n, 3]);
      if (detail) {
        const i = sink.events[1]!;
        expect([i.tid, i.a, i.b, i.c, i.name]).toEqual([500, 0x181n, 0n, EXD_RIP | EXD_INFO, -1]);
      }
    }
  });
});

describe('SVM NPF pages from binary input (info2 through EV_EXIT_INFO)', () => {
  it.each(['trace.dat.xz', 'perf.data.xz'])('svm-D-small %s: the pages, exits and vCPUs of its text twin', async (f) => {
    const text = await analyze([path.join(TRACES, 'svm-D-small', 'trace.txt.xz')], { gpas: true });
    const bin = await analyze([path.join(TRACES, 'svm-D-small', f)], { gpas: true });
    const pages = (r: typeof text) => r.gpas!.pages.map((p) => [p.gpa, p.exits]).sort();
    expect(pages(bin)).toEqual(pages(text));
    expect(bin.gpas!.distinct_pages).toBe(text.gpas!.distinct_pages);
    expect(bin.gpas!.vcpus.map((v) => [v.vcpu, v.exits])).toEqual(text.gpas!.vcpus.map((v) => [v.vcpu, v.exits]));
    // and --by gpa leaves the report itself as it was
    const plain = await analyze([path.join(TRACES, 'svm-D-small', f)]);
    const { gpas: _g, ...rest } = bin;
    void _g;
    expect(JSON.stringify(rest)).toBe(JSON.stringify(plain));
  });
});
