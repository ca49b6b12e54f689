#!/usr/bin/env python3
"""summarize.py CAPDIR - writes CAPDIR/counts.txt for an arm64 capture: events per name and kvm_exit reasons
(named as perf kvm stat names them: a TRAP by its exception class, any other exit by its type), total and per
thread, for every text format in CAPDIR (trace.txt, trace-cmd-report.txt, trace-cmd-report-N.txt, perf-script.txt,
perf-kvm-script.txt); reads .xz files too.  Also kvm_wfx_arm64 wfi/wfe and kvm_vcpu_wakeup poll/wait counts."""
import collections, lzma, os, re, sys

EV = re.compile(r'\s(\d+\.\d+):\s+(?:[\w-]+:)?(\w+):\s(.*)$')
TID = re.compile(r'[-\s](\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[\d+\]')
EXIT = re.compile(r'(?:<CANT FIND FIELD exit_reason>)?([A-Z_]+): HSR_EC: 0x([0-9a-fA-F]+) \(([^)]*)\)')


def opener(p):
    return lzma.open(p, 'rt', errors='replace') if p.endswith('.xz') else open(p, errors='replace')


def summarize(path):
    ev = collections.Counter(); reasons = collections.Counter(); per_tid = collections.Counter()
    entries = collections.Counter(); wfx = collections.Counter(); wake = collections.Counter(); n = 0
    with opener(path) as f:
        for line in f:
            if line.startswith('#') or line.startswith('cpus=') or not line.strip():
                continue
            m = EV.search(line)
            if not m:
                continue
            _, name, payload = m.groups(); n += 1; ev[name] += 1
            tm = TID.search(line[:m.start()]); tid = tm.group(1) if tm else '?'
            if name == 'kvm_exit':
                x = EXIT.search(payload)
                r = '?' if not x else (x.group(3) if x.group(1) == 'TRAP' else x.group(1))
                reasons[r] += 1; per_tid[(tid, r)] += 1
            elif name == 'kvm_entry':
                entries[tid] += 1
            elif name == 'kvm_wfx_arm64':
                wfx['wfe' if 'executed wfe' in payload else 'wfi' if 'executed wfi' in payload else '?'] += 1
            elif name == 'kvm_vcpu_wakeup':
                w = re.match(r'\s*(\w+)', payload); wake[w.group(1) if w else '?'] += 1
    out = [f'== {os.path.basename(path)}: {n} events, {ev.get("kvm_exit", 0)} kvm_exit, {ev.get("kvm_entry", 0)} kvm_entry']
    out.append('events per name:'); out += [f'  {c:9d} {k}' for k, c in ev.most_common()]
    out.append('kvm_exit reasons (all threads):'); out += [f'  {c:9d} {k}' for k, c in reasons.most_common()]
    out.append('kvm_exit reasons per thread (tid):')
    out += [f'  tid {t} {c:9d} {r}' for (t, r), c in sorted(per_tid.items(), key=lambda x: (x[0][0], -x[1]))]
    out.append('kvm_entry per thread: ' + ', '.join(f'tid {k}: {c}' for k, c in sorted(entries.items())))
    if wfx: out.append('kvm_wfx_arm64: ' + ', '.join(f'{k}: {c}' for k, c in wfx.most_common()))
    if wake: out.append('kvm_vcpu_wakeup: ' + ', '.join(f'{k}: {c}' for k, c in wake.most_common()))
    return '\n'.join(out) + '\n'


def main(d):
    res = []
    for base in ('trace.txt', 'trace-cmd-report.txt', 'trace-cmd-report-N.txt', 'perf-script.txt', 'perf-kvm-script.txt'):
        for p in (os.path.join(d, base), os.path.join(d, base + '.xz')):
            if os.path.exists(p):
                res.append(summarize(p)); break
    with open(os.path.join(d, 'counts.txt'), 'w') as f:
        f.write('\n'.join(res))


if __name__ == '__main__':
    for d in sys.argv[1:]:
        main(d)
