/**
 * The row tables kvmtax hands to SQL engines and to Parquet / Arrow files: exits, halts and lapic, one
 * row per handled exit, per halt (kvm_vcpu_wakeup) and per kvm_wait_lapic_expire, made by the same core
 * that makes the report (src/analysis/rows.ts) and streamed out of it while it reads.
 *
 * Versioned: ROW_TABLES_VERSION changes when a column changes meaning or type or goes away; a column
 * added at the end does not change it. Every Parquet file carries it in its key-value metadata
 * (kvmtax.rows_schema) and `kvmtax sql --schema` prints it.
 *
 * Units: times are ns. A capture made with trace_clock=x86-tsc carries raw TSC cycles: its times are in
 * cycles unless --tsc-khz converts them (as in the report).
 */
import { ROWS_SCHEMA_VERSION } from '../analysis/rows.js';

export const ROW_TABLES_VERSION = ROWS_SCHEMA_VERSION;

/** SQL (DuckDB / Parquet logical) type of a column. */
export type ColumnType = 'VARCHAR' | 'INTEGER' | 'BIGINT' | 'UBIGINT' | 'BOOLEAN';

export interface Column {
  name: string;
  type: ColumnType;
  nullable: boolean;
  description: string;
}

export interface TableDef {
  name: 'exits' | 'halts' | 'lapic';
  description: string;
  columns: Column[];
}

const common: Column[] = [
  { name: 'host', type: 'VARCHAR', nullable: false, description: 'the host the trace was taken on (--host; default: the host running kvmtax)' },
  { name: 'file', type: 'VARCHAR', nullable: false, description: 'the input trace file, as named on the command line' },
  { name: 'pid', type: 'INTEGER', nullable: true, description: 'VM process id (tgid of the vCPU thread); null when the trace does not say' },
  { name: 'tid', type: 'INTEGER', nullable: false, description: 'host thread id of the vCPU' },
  { name: 'vcpu', type: 'INTEGER', nullable: true, description: 'vCPU id (from kvm_entry); null while not yet known' },
  { name: 'comm', type: 'VARCHAR', nullable: true, description: 'thread name, as known when the row was made' },
];

export const TABLES: TableDef[] = [
  {
    name: 'exits',
    description: 'one row per handled exit: a kvm_exit followed by its thread\'s next kvm_entry (what the report counts as "exits handled")',
    columns: [
      ...common,
      { name: 'time_ns', type: 'BIGINT', nullable: false, description: 'trace time of the kvm_exit' },
      { name: 'reason', type: 'VARCHAR', nullable: false, description: 'canonical exit reason (perf kvm stat\'s names: msr, io, npf, hlt, EPT_VIOLATION, ...)' },
      { name: 'handling_ns', type: 'BIGINT', nullable: false, description: 'handling time: kvm_exit to the thread\'s next kvm_entry' },
      { name: 'guest_before_ns', type: 'BIGINT', nullable: true, description: 'guest time before the exit: the previous kvm_entry to this kvm_exit; null when unknown (first exit of a thread, after lost events)' },
      { name: 'key', type: 'VARCHAR', nullable: true, description: 'sub-key of MSR, port I/O and MMIO exits ("msr 0x6e0 w", "pio 0x80 w", "mmio 0xfee00300 w"); null for others' },
      { name: 'line', type: 'BIGINT', nullable: false, description: 'line of the kvm_exit in a text trace (record number in a binary one): file:line jumps to it' },
      { name: 'host_cpu', type: 'INTEGER', nullable: true, description: 'host CPU the kvm_exit was recorded on; null when the trace does not say' },
      { name: 'rip', type: 'UBIGINT', nullable: true, description: 'guest rip at the exit (kvm_exit\'s guest_rip); null when the trace\'s rendering does not carry it (Perfetto\'s typed kvm_exit on x86)' },
      { name: 'info1', type: 'UBIGINT', nullable: true, description: 'kvm_exit\'s info1: VMX exit qualification (EPT violation access bits, I/O port and size, CR number ...), SVM exit_info_1 (NPF error code, IOIO word); null when not carried' },
      { name: 'info2', type: 'UBIGINT', nullable: true, description: 'kvm_exit\'s info2: SVM exit_info_2 (the NPF\'s guest-physical address, the next rip of an IOIO), on VMX a second word (interruption or IDT-vectoring information, by kernel version); null when not carried' },
    ],
  },
  {
    name: 'halts',
    description: 'one row per halt (kvm_vcpu_wakeup): a vCPU that ran HLT, polled, and either saw a wake-up while polling or blocked',
    columns: [
      ...common,
      { name: 'time_ns', type: 'BIGINT', nullable: false, description: 'trace time of the kvm_vcpu_wakeup (the end of the halt)' },
      { name: 'state', type: 'VARCHAR', nullable: false, description: '\'poll\' (woken while polling) or \'wait\' (blocked, then woken)' },
      { name: 'valid', type: 'BOOLEAN', nullable: false, description: 'kvm_vcpu_wakeup\'s "polling valid": false when polling was not possible' },
      { name: 'halt_ns', type: 'BIGINT', nullable: false, description: 'halt time: poll plus blocked (the event\'s ns field)' },
      { name: 'window_ns', type: 'BIGINT', nullable: true, description: 'the halt-poll window the halt started with (kvm_halt_poll_ns); null when unknown' },
      { name: 'line', type: 'BIGINT', nullable: false, description: 'line (record) of the kvm_vcpu_wakeup' },
    ],
  },
  {
    name: 'lapic',
    description: 'one row per kvm_wait_lapic_expire: how far from its deadline the guest\'s timer interrupt was delivered',
    columns: [
      ...common,
      { name: 'time_ns', type: 'BIGINT', nullable: false, description: 'trace time of the event' },
      { name: 'delta_cycles', type: 'BIGINT', nullable: false, description: 'guest TSC cycles from the deadline to delivery (negative: early, KVM then waits)' },
      { name: 'line', type: 'BIGINT', nullable: false, description: 'line (record) of the event' },
    ],
  },
];

export const TABLE_NAMES = TABLES.map((t) => t.name);

export function tableDef(name: string): TableDef {
  const t = TABLES.find((x) => x.name === name);
  if (!t) throw new Error(`no row table "${name}"`);
  return t;
}

/** The summary tables `kvmtax sql` adds from the report (not in the Parquet export). */
export const SUMMARY_TABLES: Array<{ name: string; description: string; columns: Array<[string, ColumnType | 'DOUBLE', string]> }> = [
  {
    name: 'reasons',
    description: 'the report\'s per-reason figures (all inputs); percentiles from its histograms (within 0.78%)',
    columns: [
      ['reason', 'VARCHAR', 'canonical exit reason'], ['idle', 'BOOLEAN', 'HLT-class: halted time, not overhead'],
      ['exits_seen', 'BIGINT', 'kvm_exit events'], ['exits_handled', 'BIGINT', 'exits followed by their kvm_entry'],
      ['total_ns', 'DOUBLE', 'sum of handling times'], ['mean_ns', 'DOUBLE', ''], ['p50_ns', 'DOUBLE', ''], ['p90_ns', 'DOUBLE', ''],
      ['p99_ns', 'DOUBLE', ''], ['p999_ns', 'DOUBLE', ''], ['min_ns', 'DOUBLE', ''], ['max_ns', 'DOUBLE', ''],
    ],
  },
  {
    name: 'vcpus',
    description: 'the report\'s per-vCPU figures (one row per vCPU thread of each VM of each file)',
    columns: [
      ['host', 'VARCHAR', ''], ['file', 'VARCHAR', ''], ['pid', 'INTEGER', 'VM process'], ['vm', 'VARCHAR', 'VM name'],
      ['vcpu', 'INTEGER', ''], ['tid', 'INTEGER', ''], ['comm', 'VARCHAR', ''], ['exits_seen', 'BIGINT', ''],
      ['exits_handled', 'BIGINT', ''], ['wall_ns', 'DOUBLE', 'first to last kvm_exit/kvm_entry'], ['guest_ns', 'DOUBLE', ''],
      ['host_ns', 'DOUBLE', 'sum of handling times'], ['halted_ns', 'DOUBLE', 'idle time inside HLT exits'],
      ['overhead_ns', 'DOUBLE', 'host - halted'], ['tax', 'DOUBLE', 'overhead / wall'],
    ],
  },
];

/** `kvmtax sql --schema` as text. */
export function describeSchema(): string {
  const out: string[] = [`kvmtax row tables, schema version ${ROW_TABLES_VERSION}`, ''];
  for (const t of TABLES) {
    out.push(`${t.name}: ${t.description}`);
    const w = Math.max(...t.columns.map((c) => c.name.length));
    for (const c of t.columns) out.push(`  ${c.name.padEnd(w)}  ${(c.type + (c.nullable ? '' : ' NOT NULL')).padEnd(16)}  ${c.description}`);
    out.push('');
  }
  out.push('summary tables (kvmtax sql only, from the report of the same inputs):');
  for (const t of SUMMARY_TABLES) {
    out.push(`${t.name}: ${t.description}`);
    out.push(`  ${t.columns.map(([n, ty]) => `${n} ${ty}`).join(', ')}`);
  }
  out.push('', 'times are ns (TSC cycles for trace_clock=x86-tsc captures unless --tsc-khz is given)');
  return out.join('\n') + '\n';
}

/** The same as JSON (machine-readable). */
export function schemaJson(): object {
  return {
    version: ROW_TABLES_VERSION,
    tables: TABLES.map((t) => ({ name: t.name, description: t.description, columns: t.columns })),
    summary_tables: SUMMARY_TABLES.map((t) => ({ name: t.name, description: t.description, columns: t.columns.map(([name, type, description]) => ({ name, type, description })) })),
  };
}
