// Format-independent analysis: every reader (the text tokenizer here, the TypeScript binary readers via
// event batches) ends in onEvent(). It pairs each kvm_exit with the next kvm_entry of the same host
// thread and bins the handling time per (thread, reason) into log-linear histograms.
import {
  EV_EXIT, EV_ENTRY, EV_VCPU_WAKEUP, EV_LOST, EV_OTHER, EV_SCHED_SWITCH, EV_SCHED_WAKEUP,
  WAKE_WAITED, WAKE_VALID, EXITF_FAILED_VMENTRY,
  TH_STRIDE, TH_FILE, TH_TID, TH_TGID, TH_VCPU, TH_COMM, TH_LAST_CPU, TH_STATE, TH_PEND_REASON, TH_PEND_TS,
  TH_LAST_ENTRY_TS, TH_GUEST, TH_HOST, TH_FIRST_TS, TH_LAST_TS, TH_EXITS, TH_HANDLED, TH_ENTRIES,
  TH_LEADING_ENTRY, TH_ENTRY_NO_EXIT, TH_EXIT_NO_ENTRY, TH_LOST_RESETS, TH_PEND_WHERE, TH_PEND_FLAGS,
  TH_BACKWARDS, TH_WAKE_POLL, TH_WAKE_WAIT, TH_WAKE_POLL_NS, TH_WAKE_WAIT_NS, TH_WAKE_INVALID, TH_EVENTS,
  TH_KVM_EVENTS, TH_PENDING_AT_END,
  ST_NONE, ST_GUEST, ST_HOST, ST_GAP,
  BIN_STRIDE, BIN_THREAD, BIN_REASON, BIN_SEEN, BIN_HANDLED, BIN_SUM, BIN_MIN, BIN_MAX, BIN_SUMSQ, BIN_SUMSQ_HI, BIN_HIST,
  BIN_FAILED, HIST_BUCKETS, TOP_STRIDE,
  C_EVENTS, C_LOST_MARKERS, C_LOST_EVENTS, C_FIRST_TS, C_LAST_TS, C_COUNT, C_SEGMENTS, SEG_MAX, SEG_STRIDE, SEG_GAP_NS,
  EV_HALT_POLL_NS, EV_WAIT_LAPIC_EXPIRE, EV_MSR, EV_PIO, EV_MMIO, EV_PLE_WINDOW, EV_WFX, EV_HVC,
  TH_HP_WINDOW, TH_HP_START_WINDOW, TH_HP_FLAGS, TH_HP_ATTEMPTED, TH_HP_SUCCESS, TH_HP_INVALID, TH_HP_SUCCESS_NS,
  TH_HP_FAIL_NS, TH_HP_WAIT_NS, TH_HP_GROWS, TH_HP_SHRINKS, TH_HP_FLIPS, TH_HP_LAST_DIRECTION, TH_HP_MAX, TH_HP_WIN_TS,
  TH_HP_WIN_AREA, TH_PRE_WINDOW_WAKES, TH_PRE_WINDOW_POLLS, TH_PRE_WINDOW_POLL_NS, TH_PRE_WINDOW_WAITS, TH_PRE_WINDOW_INVALID, TH_PRE_WINDOW_WAIT_NS,
  TH_WAKE_TS, TH_SCHED_WAKE_TS, TH_RUNNABLE_TS, TH_PREEMPT_GUEST, TH_PREEMPT_HOST, TH_SLEEPS, TH_PLE_GROWS,
  TH_PLE_SHRINKS, TH_PLE_LAST, TH_PEND_SUB, TH_LAPIC, TH_SWITCH_IN, TH_HALT_WAKES, TH_HP_FIRST_TS,
  HPF_KNOWN, HPF_CHANGED, M_HALT_POLL_OK, M_HALT_WAIT, M_HALT_BLOCKED, M_LAPIC_EARLY, M_LAPIC_LATE,
  M_WAKE_TO_ENTRY, M_SCHED_WAKE_TO_ENTRY, BIN_USER_NS, BIN_USER_N, TH_PEND_USER_TS, BIN_PREEMPT_NS, BIN_PREEMPT_N, TH_PEND_PREEMPT_NS, TH_PREEMPT_OUT_TS, TH_PEND_RIP, TH_PEND_GPA, EV_USERSPACE_EXIT, M_RUN_DELAY, M_HALT_POLL_ATTEMPT_WIN, SUBKEY_FLAG, TH_FIRST_IN_TS, TH_FIRST_IN_RUNNABLE, TH_FIRST_IN_PK, TH_PRE_EXIT_USER_TS, TH_PRE_EXIT_PREEMPT_NS, TH_PRE_EXIT_PREEMPT_OUT_TS,
  BIN_WAKE_POLL_NS, BIN_WAKE_WAIT_NS, BIN_WAKES, BIN_WAKE_POLLS,
  TH_PEND_GUEST, TH_TL_WIDTH, TH_TL_ORIGIN, TH_TL_PTR, TL_BUCKETS, TL_START_WIDTH,
  TH_PRE_WINDOW_LISTED, TH_EXIT_BIN_KEY, TH_EXIT_BIN, TH_SUB_BIN_KEY, TH_SUB_BIN, TH_METRIC_BINS, PW_POLL, PW_VALID, PW_MAX, M_PRE_POLL,
  TH_PRE_EXIT_WAKES, TH_PRE_EXIT_WAKE_POLLS, TH_PRE_EXIT_POLL_NS, TH_PRE_EXIT_WAIT_NS, TH_PRE_EXIT_SUB, TH_HP_FIRST_OLD_WINDOW, TH_PRE_EXIT_SCHED_WAKE_TS, TH_PRE_EXIT_PREEMPTS, M_PRE_WAIT, TH_HP_FIRST_DIRECTION, TH_PRE_KVM_SWITCH_INS, TH_PRE_KVM_SLEEPS, TH_PRE_KVM_PREEMPTS, M_PK_RUN_DELAY, TH_WALL, TH_PREV_TS, TH_JUMPS, JUMP_BACK, TH_REPLACED, TH_JUMP_DROPS, TH_PEND_BIN, TH_CPU_MASK, TH_MIGRATIONS,
  ROW_STRIDE, ROW_TS, ROW_DUR, ROW_AUX, ROW_WHERE, ROW_THREAD, ROW_KEY, ROW_SUB, ROW_KIND, ROWK_EXIT, ROWK_HALT, ROWK_LAPIC,
  EV_EXIT_INFO, EV_PAGE_FAULT, EXD_INFO, TH_PEND_INFO1, TH_PEND_INFO2, TH_PEND_CPU, TH_PEND_DETAIL, ROW_RIP, ROW_INFO1, ROW_INFO2, ROW_CPU, ROW_DETAIL,
} from "./constants";
import { zalloc, regrow, hash2 } from "./mem";
import { countName, internCached, overflowId } from "./dict";
import { nestedActive, nestedStep, nestedOther } from "./nested";

// ---- global counters (per file; TypeScript snapshots them when a file ends) ----
export const counters: usize = zalloc(C_COUNT * 8);
export function counterAdd(i: i32, v: i64): void {
  const p = counters + (<usize>i << 3);
  store<i64>(p, load<i64>(p) + v);
}
export function counterSet(i: i32, v: i64): void { store<i64>(counters + (<usize>i << 3), v); }
export function counterGet(i: i32): i64 { return load<i64>(counters + (<usize>i << 3)); }

export let fileId: i32 = 0;

// ---- threads ----
let threads: usize = 0;
let threadCap: i32 = 0;
export let threadCount: i32 = 0;
let thTable: usize = 0; // i32 index + 1
let thTableCap: i32 = 0;
let lastTid: i32 = 0x7fffffff;
let lastTidFile: i32 = -1;
let lastThread: i32 = -1;

// ---- bins and histograms ----
let bins: usize = 0;
let binCap: i32 = 0;
export let binCount: i32 = 0;
let binTable: usize = 0;
let binTableCap: i32 = 0;
// histograms: HIST_BUCKETS u32 counts per bin, two-level so that memory follows the data: a directory of
// HIST_PAGES page pointers per histogram (in blocks of HIST_BLOCK directories that are never moved), and
// a page of HIST_PAGE buckets only where a value fell (a bin's durations span a few octaves: a few pages
// of the 41). Pages come from chunks of HIST_CHUNK pages.
const HIST_BLOCK: i32 = 64;
const HIST_PAGE_SHIFT: i32 = 6;
const HIST_PAGE: i32 = 1 << HIST_PAGE_SHIFT; // buckets per page
const HIST_PAGES: i32 = (HIST_BUCKETS + HIST_PAGE - 1) / HIST_PAGE;
const HIST_DIR: usize = <usize>((HIST_PAGES * 4 + 15) & ~15); // bytes of one directory
const HIST_CHUNK: i32 = 64; // pages per allocation
let histBlocks: usize = 0; // usize pointers, one per block
let histBlockCap: i32 = 0;
let histBlockCount: i32 = 0;
let pageNext: usize = 0;
let pageLeft: i32 = 0;
/** Address of histogram h's directory (HIST_PAGES u32 page addresses, 0: an empty page). */
// @ts-ignore: decorator
@inline export function histAddr(h: i32): usize {
  return load<usize>(histBlocks + (<usize>(h / HIST_BLOCK) << alignof<usize>())) + <usize>(h % HIST_BLOCK) * HIST_DIR;
}
function ensureHist(h: i32): void {
  while (h / HIST_BLOCK >= histBlockCount) {
    if (histBlockCount == histBlockCap) {
      const nc = histBlockCap == 0 ? 16 : histBlockCap * 2;
      histBlocks = regrow(histBlocks, <usize>histBlockCap << alignof<usize>(), <usize>nc << alignof<usize>());
      histBlockCap = nc;
    }
    store<usize>(histBlocks + (<usize>histBlockCount << alignof<usize>()), zalloc(<usize>HIST_BLOCK * HIST_DIR));
    histBlockCount++;
  }
}
/** The page of bucket i of the histogram at directory d, created if absent. */
function histPage(d: usize, i: i32): usize {
  const dp = d + (<usize>(i >> HIST_PAGE_SHIFT) << 2);
  let pg = <usize>load<u32>(dp);
  if (pg == 0) {
    if (pageLeft == 0) { pageNext = zalloc(<usize>HIST_CHUNK * HIST_PAGE * 4); pageLeft = HIST_CHUNK; }
    pg = pageNext;
    pageNext += <usize>HIST_PAGE * 4;
    pageLeft--;
    store<u32>(dp, <u32>pg);
  }
  return pg;
}
/** Add n to bucket i of the histogram at directory d. */
// @ts-ignore: decorator
@inline function histAdd(d: usize, i: i32, n: u32): void {
  let pg = <usize>load<u32>(d + (<usize>(i >> HIST_PAGE_SHIFT) << 2));
  if (pg == 0) pg = histPage(d, i);
  const p = pg + (<usize>(i & (HIST_PAGE - 1)) << 2);
  store<u32>(p, load<u32>(p) + n);
}
// Histogram updates are logged and applied in batches grouped by histogram: a bin's pages are then
// touched once per batch rather than once per value. With thousands of bins (64 vCPUs x reasons, sub-keys
// and metrics) the pages outgrow the cache and each direct update was a miss (about a fifth of a
// realistic text run). Counts add up in any order: the histograms are the same. Everything that reads
// or changes histograms flushes the log first (histFlush).
const HLOG_CAP: i32 = 262144; // (hist u32, bucket u32) entries
const HLOG_GROUPS: i32 = 4096;
// Up to this many blocks of histograms (128: the bins of a few vCPU threads, as in most perf.data captures),
// their pages stay in cache and a count goes straight to its bucket: logging and sorting it costs more
// (perf.data tiled from svm-A-baseline: 793 -> 760 ms a run). The log is for the many-thread shapes.
const HLOG_DIRECT_BLOCKS: i32 = 2;
let hlog: usize = 0;
let hlog2: usize = 0;
let hgroups: usize = 0;
let hlogN: i32 = 0;
/** Log one count for bucket i of histogram h. */
// @ts-ignore: decorator
@inline function histLog(h: i32, i: i32): void {
  // few histograms (HLOG_DIRECT_BLOCKS): straight to the bucket
  if (histBlockCount <= HLOG_DIRECT_BLOCKS) { histAdd(histAddr(h), i, 1); return; }
  if (hlogN == HLOG_CAP) histFlush();
  const p = hlog + (<usize>hlogN << 3);
  store<u32>(p, <u32>h);
  store<u32>(p + 4, <u32>i);
  hlogN++;
}
/** Apply the logged counts, grouped by histogram number (a counting sort on its high bits). */
export function histFlush(): void {
  const n = hlogN;
  if (n == 0) return;
  hlogN = 0;
  let s = 0;
  while (((histBlockCount * HIST_BLOCK) >> s) >= HLOG_GROUPS) s++;
  memory.fill(hgroups, 0, <usize>HLOG_GROUPS << 2);
  for (let k = 0; k < n; k++) {
    const g = hgroups + (<usize>(load<u32>(hlog + (<usize>k << 3)) >> s) << 2);
    store<u32>(g, load<u32>(g) + 1);
  }
  let sum: u32 = 0;
  for (let g = 0; g < HLOG_GROUPS; g++) {
    const gp = hgroups + (<usize>g << 2);
    const c = load<u32>(gp);
    store<u32>(gp, sum);
    sum += c;
  }
  for (let k = 0; k < n; k++) {
    const e = load<u64>(hlog + (<usize>k << 3));
    const g = hgroups + (<usize>(<u32>e >> s) << 2);
    const at = load<u32>(g);
    store<u32>(g, at + 1);
    store<u64>(hlog2 + (<usize>at << 3), e);
  }
  let lastH: i32 = -1;
  let d: usize = 0;
  for (let k = 0; k < n; k++) {
    const p = hlog2 + (<usize>k << 3);
    const h = load<i32>(p);
    if (h != lastH) { d = histAddr(h); lastH = h; }
    histAdd(d, load<i32>(p + 4), 1);
  }
}

/** Bucket i of the histogram at directory d. */
function histGet(d: usize, i: i32): u32 {
  const pg = <usize>load<u32>(d + (<usize>(i >> HIST_PAGE_SHIFT) << 2));
  return pg == 0 ? 0 : load<u32>(pg + (<usize>(i & (HIST_PAGE - 1)) << 2));
}
/** The directory of histogram h (HIST_PAGES u32 page addresses, 0: an empty page), the log applied first. */
export function histDirPtr(h: i32): usize {
  histFlush();
  return histAddr(h);
}

// ---- merging --jobs slices' histograms into this core (src/wasm/merge.ts), after the scan ----
// A merged bin keeps the histogram of the main slice's bin, or gets a new one numbered after the bins
// (the core makes no more bins once its input has ended).
let histExtra: i32 = -1;
/** A new, empty histogram (its index). */
export function histNew(): i32 {
  histFlush();
  if (histExtra < binCount) histExtra = binCount;
  const h = histExtra++;
  ensureHist(h);
  return h;
}
/** Add n to bucket i of histogram h. */
export function histAddTo(h: i32, i: i32, n: u32): void { histFlush(); histAdd(histAddr(h), i, n); }
/** Add n [bucket, count] u32 pairs at p to histogram h (a worker's histogram, transferred). */
export function histAddPairs(h: i32, p: usize, n: i32): void {
  histFlush();
  const d = histAddr(h);
  for (let k = 0; k < n; k++) histAdd(d, load<u32>(p + (<usize>k << 3)), load<u32>(p + (<usize>k << 3) + 4));
}
/**
 * Several histograms' [bucket, count] pairs in one call: n (histogram, pair count) i32 pairs at p, then each
 * one's pairs in that order (a --jobs worker's bins, transferred: one call per bin was most of their merge).
 */
export function histAddPairsList(p: usize, n: i32): void {
  histFlush();
  let q = p + (<usize>n << 3);
  for (let k = 0; k < n; k++) {
    const d = histAddr(load<i32>(p + (<usize>k << 3)));
    const m = load<i32>(p + (<usize>k << 3) + 4);
    for (let j = 0; j < m; j++) histAdd(d, load<u32>(q + (<usize>j << 3)), load<u32>(q + (<usize>j << 3) + 4));
    q += <usize>m << 3;
  }
}
/** Histogram src added to histogram dst, page by page. */
export function histAddAll(dst: i32, src: i32): void {
  histFlush();
  const sd = histAddr(src);
  for (let pg = 0; pg < HIST_PAGES; pg++) {
    const sp = <usize>load<u32>(sd + (<usize>pg << 2));
    if (sp == 0) continue;
    for (let j = 0; j < HIST_PAGE; j++) {
      const n = load<u32>(sp + (<usize>j << 2));
      if (n) histAdd(histAddr(dst), (pg << HIST_PAGE_SHIFT) + j, n);
    }
  }
}
// ---- a --jobs worker's histograms, posted to the main thread (src/wasm/core.ts Core.packHists) ----
/**
 * Every bin's histogram as [bucket, count] u32 pairs of its non-zero buckets, bin after bin. With out 0 it only
 * counts them (the scratch for them then holds just those: it counts against the memory budget); else it writes
 * them at out, and at ends the number of pairs up to the end of each bin (u32 per bin). Returns the number of pairs.
 */
export function histPack(out: usize, ends: usize): i32 {
  histFlush();
  let n = 0;
  for (let i = 0; i < binCount; i++) {
    const d = histAddr(load<i32>(bins + <usize>i * BIN_STRIDE + BIN_HIST));
    for (let pg = 0; pg < HIST_PAGES; pg++) {
      const sp = <usize>load<u32>(d + (<usize>pg << 2));
      if (sp == 0) continue;
      const len = min(HIST_PAGE, HIST_BUCKETS - (pg << HIST_PAGE_SHIFT));
      for (let j = 0; j < len; j += 4) {
        // four buckets at a time: most of a page's are empty (pages hold 64 buckets, HIST_BUCKETS is a multiple of 64)
        if (!v128.any_true(v128.load(sp + (<usize>j << 2)))) continue;
        for (let k = j; k < j + 4 && k < len; k++) {
          const c = load<u32>(sp + (<usize>k << 2));
          if (c == 0) continue;
          if (out) {
            const q = out + (<usize>n << 3);
            store<u32>(q, <u32>((pg << HIST_PAGE_SHIFT) + k));
            store<u32>(q + 4, c);
          }
          n++;
        }
      }
    }
    if (out) store<u32>(ends + (<usize>i << 2), <u32>n);
  }
  return n;
}

// ---- the summary's reads (src/core/histogram.ts): histograms summed and ranked here, not page by page in JS ----
let hsum: usize = 0; // HIST_BUCKETS u64 counts
let hscratch: usize = 0;
let hscratchCap: usize = 0;
/** A scratch area of at least `bytes` for the ids and ranks of histRanks / histSum (its address). */
export function histScratch(bytes: i32): usize {
  if (<usize>bytes > hscratchCap) {
    let cap: usize = hscratchCap == 0 ? 4096 : hscratchCap;
    while (cap < <usize>bytes) cap <<= 1;
    hscratch = zalloc(cap);
    hscratchCap = cap;
  }
  return hscratch;
}
/** The n histograms whose numbers (i32) are at p, summed into the dense u64 counts at hsum (its address). */
export function histSum(p: usize, n: i32): usize {
  histFlush();
  if (hsum == 0) hsum = zalloc(<usize>HIST_BUCKETS << 3);
  memory.fill(hsum, 0, <usize>HIST_BUCKETS << 3);
  for (let k = 0; k < n; k++) {
    const d = histAddr(load<i32>(p + (<usize>k << 2)));
    for (let pg = 0; pg < HIST_PAGES; pg++) {
      const sp = <usize>load<u32>(d + (<usize>pg << 2));
      if (sp == 0) continue;
      const o = hsum + (<usize>(pg << HIST_PAGE_SHIFT) << 3);
      const len = min(HIST_PAGE, HIST_BUCKETS - (pg << HIST_PAGE_SHIFT));
      for (let j = 0; j < len; j++) {
        const q = o + (<usize>j << 3);
        store<u64>(q, load<u64>(q) + <u64>load<u32>(sp + (<usize>j << 2)));
      }
    }
  }
  return hsum;
}
/**
 * Nearest-rank reads of the n histograms at p summed: for each of the nr ranks (ascending f64 at r), the first
 * bucket where the running count reaches it, or -1 when the counts end first (i32 each at out).
 */
export function histRanks(p: usize, n: i32, r: usize, nr: i32, out: usize): void {
  histFlush();
  if (hsum == 0) hsum = zalloc(<usize>HIST_BUCKETS << 3);
  // several: summed into the dense counts, one histogram at a time; one: each of its pages widened in turn into
  // the dense counts' first page (no 21 KB to clear for each of thousands of bins)
  const one = n == 1;
  const d = one ? histAddr(load<i32>(p)) : 0;
  const s = one ? hsum : histSum(p, n);
  let k = 0;
  let c: u64 = 0;
  for (let pg = 0; pg < HIST_PAGES && k < nr; pg++) {
    const len = min(HIST_PAGE, HIST_BUCKETS - (pg << HIST_PAGE_SHIFT));
    let o = s + (<usize>(pg << HIST_PAGE_SHIFT) << 3);
    let t: u64 = 0;
    if (one) {
      const sp = <usize>load<u32>(d + (<usize>pg << 2));
      if (sp == 0) continue;
      o = hsum;
      for (let j = 0; j < len; j++) { const v = <u64>load<u32>(sp + (<usize>j << 2)); store<u64>(o + (<usize>j << 3), v); t += v; }
    } else {
      for (let j = 0; j < len; j++) t += load<u64>(o + (<usize>j << 3));
    }
    // a page where no rank falls is passed at once
    if (<f64>(c + t) < load<f64>(r + (<usize>k << 3))) { c += t; continue; }
    for (let j = 0; j < len && k < nr; j++) {
      const v = load<u64>(o + (<usize>j << 3));
      if (v == 0) continue;
      c += v;
      while (k < nr && <f64>c >= load<f64>(r + (<usize>k << 3))) { store<i32>(out + (<usize>k << 2), (pg << HIST_PAGE_SHIFT) + j); k++; }
    }
  }
  for (; k < nr; k++) store<i32>(out + (<usize>k << 2), -1);
}
/** Every count of histogram h set to zero. */
export function histClear(h: i32): void {
  histFlush();
  const d = histAddr(h);
  for (let pg = 0; pg < HIST_PAGES; pg++) {
    const sp = <usize>load<u32>(d + (<usize>pg << 2));
    if (sp) memory.fill(sp, 0, <usize>HIST_PAGE * 4);
  }
}

// ---- top-N slowest handled exits (a min-heap on duration) ----
let top: usize = 0;
export let topCap: i32 = 0;
export let topCount: i32 = 0;

export function analysisInit(topN: i32): void {
  subCache = zalloc(SUB_SLOTS * 16);
  threadCap = 256;
  threads = zalloc(<usize>threadCap * TH_STRIDE);
  threadCount = 0;
  thTableCap = 1024;
  thTable = zalloc(<usize>thTableCap * 4);
  binCap = 256;
  bins = zalloc(<usize>binCap * BIN_STRIDE);
  histBlocks = 0; histBlockCap = 0; histBlockCount = 0; pageNext = 0; pageLeft = 0; histExtra = -1;
  if (hlog == 0) { hlog = zalloc(<usize>HLOG_CAP << 3); hlog2 = zalloc(<usize>HLOG_CAP << 3); hgroups = zalloc(<usize>HLOG_GROUPS << 2); }
  hlogN = 0;
  binCount = 0;
  binTableCap = 1024;
  binTable = zalloc(<usize>binTableCap * 4);
  pwList = 0; pwCount = 0; pwCap = 0;
  topCap = topN;
  top = zalloc(<usize>(topN + 1) * TOP_STRIDE);
  topCount = 0;
  lastTid = 0x7fffffff;
  lastThread = -1;
  lastTidFile = -1;
}

// ---- rows (optional): one record per handled exit / halt / lapic event, drained by TypeScript ----
let rows: usize = 0;
export let rowCap: i32 = 0;
export let rowCount: i32 = 0;
export function rowsInit(cap: i32): void {
  rowCap = cap;
  rows = cap > 0 ? zalloc(<usize>cap * ROW_STRIDE) : 0;
  rowCount = 0;
}
export function rowsPtr(): usize { return rows; }
export function rowsReset(): void { rowCount = 0; }
/** Is there room for the rows one more event can produce? */
export function rowsRoom(): bool { return rowCap == 0 || rowCount < rowCap; }
function row(kind: i32, ts: i64, dur: i64, aux: i64, where: i64, thread: i32, key: i32, sub: i32): void {
  if (rowCap == 0 || rowCount >= rowCap) return;
  const r = rows + <usize>rowCount * ROW_STRIDE;
  store<i64>(r + ROW_TS, ts); store<i64>(r + ROW_DUR, dur); store<i64>(r + ROW_AUX, aux); store<i64>(r + ROW_WHERE, where);
  store<i32>(r + ROW_THREAD, thread); store<i32>(r + ROW_KEY, key); store<i32>(r + ROW_SUB, sub); store<i32>(r + ROW_KIND, kind);
  if (kind == ROWK_EXIT) {
    // the exit's detail: guest rip, info1/info2 (what its rendering carried) and the host CPU it exited on
    const t = threads + <usize>thread * TH_STRIDE;
    store<i64>(r + ROW_RIP, load<i64>(t + TH_PEND_RIP)); store<i64>(r + ROW_INFO1, load<i64>(t + TH_PEND_INFO1));
    store<i64>(r + ROW_INFO2, load<i64>(t + TH_PEND_INFO2)); store<i32>(r + ROW_CPU, load<i32>(t + TH_PEND_CPU));
    store<i32>(r + ROW_DETAIL, load<i32>(t + TH_PEND_DETAIL));
  } else {
    store<i64>(r + ROW_RIP, 0); store<i64>(r + ROW_INFO1, 0); store<i64>(r + ROW_INFO2, 0);
    store<i32>(r + ROW_CPU, -1); store<i32>(r + ROW_DETAIL, 0);
  }
  rowCount++;
}

/** EV_EXIT_INFO: the detail of the exit this thread just read (rows), kept with it until its entry. */
function exitInfo(tid: i32, tgid: i32, a: i64, b: i64, c: i32): void {
  if (tid < 0) return;
  const t = threads + <usize>threadOf(tid, tgid) * TH_STRIDE;
  if (load<i32>(t + TH_STATE) != ST_HOST) return;
  store<i64>(t + TH_PEND_INFO1, a);
  store<i64>(t + TH_PEND_INFO2, b);
  store<i32>(t + TH_PEND_DETAIL, c);
  // --by gpa, binary input: an SVM NPF's faulting guest-physical address is its info2
  if (gpaOn && (c & EXD_INFO) && load<i32>(t + TH_PEND_REASON) == npfReason && b >= 0) store<i64>(t + TH_PEND_GPA, b);
}

// ---- VMX EPT violations (--by gpa): the exit names no address; its kvm_page_fault (handle_ept_violation) does ----
let eptReason: i32 = -1;
let npfReason: i32 = -1;
/** The dictionary ids of "EPT_VIOLATION" and "npf" (the analysis knows reasons by id only). */
export function setGpaReasons(ept: i32, npf: i32): void { eptReason = ept; npfReason = npf; }
function pageFault(tid: i32, tgid: i32, addr: i64): void {
  if (!gpaOn || tid < 0 || addr < 0) return;
  const t = threads + <usize>threadOf(tid, tgid) * TH_STRIDE;
  if (load<i32>(t + TH_STATE) == ST_HOST && load<i64>(t + TH_PEND_GPA) == -2) store<i64>(t + TH_PEND_GPA, addr);
}

// ---- timeline: exits per bucket per thread, one bucket width per file (doubles as time goes on) ----
let tl: usize = 0;
let tlCap: i32 = 0; // threads' worth of buckets
let tlUsed: i32 = 0;
let tlWidth: i64 = TL_START_WIDTH;
let tlLimit: i64 = TL_START_WIDTH * TL_BUCKETS; // timestamps from the origin below this fit the buckets
let tlOrigin: i64 = i64.MIN_VALUE;
function tlBuckets(t: usize): usize {
  let off = load<i32>(t + TH_TL_PTR);
  if (off == 0) {
    if (tlUsed == tlCap) {
      const nc = tlCap == 0 ? 16 : tlCap * 2;
      tl = regrow(tl, <usize>tlCap * TL_BUCKETS * 4, <usize>nc * TL_BUCKETS * 4);
      tlCap = nc;
    }
    off = 1 + tlUsed++ * TL_BUCKETS * 4; // +1 so that 0 means none
    store<i32>(t + TH_TL_PTR, off);
  }
  return tl + <usize>(off - 1);
}
function tlCount(t: usize, ts: i64): void {
  if (tlOrigin == i64.MIN_VALUE) tlOrigin = ts;
  let d = ts - tlOrigin;
  if (d < 0) d = 0;
  while (d >= tlLimit) {
    // double the width: merge bucket pairs of every thread of this file
    for (let i = 0; i < threadCount; i++) {
      const o = threads + <usize>i * TH_STRIDE;
      if (load<i32>(o + TH_FILE) != fileId || load<i32>(o + TH_TL_PTR) == 0) continue;
      const b = tl + <usize>(load<i32>(o + TH_TL_PTR) - 1);
      for (let k = 0; k < TL_BUCKETS / 2; k++) {
        store<u32>(b + <usize>k * 4, load<u32>(b + <usize>(2 * k) * 4) + load<u32>(b + <usize>(2 * k + 1) * 4));
      }
      memory.fill(b + <usize>(TL_BUCKETS / 2) * 4, 0, TL_BUCKETS * 2);
    }
    tlWidth *= 2;
    tlLimit = tlWidth * TL_BUCKETS;
  }
  const b = tlBuckets(t) + <usize>(d / tlWidth) * 4;
  store<u32>(b, load<u32>(b) + 1);
}
export function timelinePtr(): usize { return tl; }
/** Bytes of the timeline area in use (threads' bucket arrays, TL_PTR offsets into it). */
export function timelineBytes(): i32 { return tlUsed * TL_BUCKETS * 4; }
/** For a slice of a file read by a worker: use the whole file's timeline origin. */
export function setTimelineOrigin(ts: i64): void { tlOrigin = ts; }
export function timelineOrigin(): i64 { return tlOrigin; }

export function threadsPtr(): usize { return threads; }
export function binsPtr(): usize { return bins; }
export function topPtr(): usize { return top; }

// ---- time segments: several captures pasted into one file put time back by seconds to days; each
// segment's first and last time is kept (up to SEG_MAX; later ones merge into the last record)
export const segTable: usize = zalloc(<usize>SEG_MAX * SEG_STRIDE);
let segEnd: i64 = i64.MIN_VALUE;

export function setFile(id: i32): void {
  fileId = id;
  segEnd = i64.MIN_VALUE;
  lastTid = 0x7fffffff;
  lastThread = -1;
  lastTidFile = -1;
  memory.fill(counters, 0, C_COUNT * 8);
  tlWidth = TL_START_WIDTH;
  tlLimit = TL_START_WIDTH * TL_BUCKETS;
  tlOrigin = i64.MIN_VALUE;
  counterSet(C_FIRST_TS, i64.MAX_VALUE);
  counterSet(C_LAST_TS, i64.MIN_VALUE);
}

function thGrowTable(): void {
  const nc = thTableCap << 1;
  const nt = zalloc(<usize>nc * 4);
  const mask = nc - 1;
  for (let i = 0; i < threadCount; i++) {
    const t = threads + <usize>i * TH_STRIDE;
    if (load<i32>(t + TH_REPLACED)) continue;
    let s = <i32>(hash2(load<i32>(t + TH_FILE), load<i32>(t + TH_TID)) & <u32>mask);
    while (load<i32>(nt + (<usize>s << 2)) != 0) s = (s + 1) & mask;
    store<i32>(nt + (<usize>s << 2), i + 1);
  }
  thTable = nt;
  thTableCap = nc;
}

/** The index of the thread record of `tid` in the current file, created on first sight. */
export function threadOf(tid: i32, tgid: i32): i32 {
  if (tid == lastTid && lastTidFile == fileId) {
    if (tgid < 0) return lastThread;
    const c = load<i32>(threads + <usize>lastThread * TH_STRIDE + TH_TGID);
    if (c < 0 || c == tgid) return lastThread;
  }
  const mask = thTableCap - 1;
  let s = <i32>(hash2(fileId, tid) & <u32>mask);
  while (true) {
    const v = load<i32>(thTable + (<usize>s << 2));
    if (v == 0) break;
    const t = threads + <usize>(v - 1) * TH_STRIDE;
    if (load<i32>(t + TH_TID) == tid && load<i32>(t + TH_FILE) == fileId) {
      const known = load<i32>(t + TH_TGID);
      if (tgid >= 0 && known >= 0 && known != tgid) {
        // the tid was reused by a new process: a new thread from here on (this slot will point at it)
        store<i32>(t + TH_REPLACED, 1);
        return newThread(tid, tgid, s);
      }
      lastTid = tid; lastTidFile = fileId; lastThread = v - 1;
      return v - 1;
    }
    s = (s + 1) & mask;
  }
  return newThread(tid, tgid, s);
}

/** A new thread record, put in hash slot `s` (empty, or the record of a tid that was reused). */
function newThread(tid: i32, tgid: i32, s: i32): i32 {
  if (threadCount == threadCap) {
    threads = regrow(threads, <usize>threadCap * TH_STRIDE, <usize>threadCap * 2 * TH_STRIDE);
    threadCap <<= 1;
  }
  const idx = threadCount++;
  const t = threads + <usize>idx * TH_STRIDE;
  store<i32>(t + TH_FILE, fileId);
  store<i32>(t + TH_TID, tid);
  store<i32>(t + TH_TGID, tgid);
  store<i32>(t + TH_VCPU, -1);
  store<i32>(t + TH_COMM, -1);
  store<i32>(t + TH_LAST_CPU, -1);
  store<i32>(t + TH_STATE, ST_NONE);
  store<i64>(t + TH_FIRST_TS, i64.MAX_VALUE);
  store<i64>(t + TH_LAST_TS, i64.MIN_VALUE);
  store<i64>(t + TH_WAKE_TS, i64.MIN_VALUE);
  store<i64>(t + TH_SCHED_WAKE_TS, i64.MIN_VALUE);
  store<i64>(t + TH_RUNNABLE_TS, i64.MIN_VALUE);
  store<i32>(t + TH_PEND_SUB, -1);
  store<i32>(t + TH_PRE_EXIT_SUB, -1);
  store<i64>(t + TH_PRE_EXIT_SCHED_WAKE_TS, i64.MIN_VALUE);
  store<i64>(t + TH_PREV_TS, i64.MIN_VALUE);
  store<i64>(t + TH_FIRST_IN_TS, i64.MIN_VALUE);
  store<i64>(t + TH_FIRST_IN_RUNNABLE, i64.MIN_VALUE);
  store<i64>(t + TH_PRE_EXIT_USER_TS, i64.MIN_VALUE);
  store<i64>(t + TH_PRE_EXIT_PREEMPT_OUT_TS, i64.MIN_VALUE);
  const reuse = load<i32>(thTable + (<usize>s << 2)) != 0;
  store<i32>(thTable + (<usize>s << 2), idx + 1);
  if (!reuse && threadCount * 2 > thTableCap) thGrowTable();
  lastTid = tid; lastTidFile = fileId; lastThread = idx;
  return idx;
}

export function threadPtr(idx: i32): usize { return threads + <usize>idx * TH_STRIDE; }

/**
 * The tokenizer's header cache found thread `idx` for `tid`: if that record is still the live one of
 * this file, make it the next threadOf()'s answer (one lookup per line) and say so.
 */
export function primeThread(idx: i32, tid: i32): bool {
  if (idx < 0 || idx >= threadCount) return false;
  const t = threads + <usize>idx * TH_STRIDE;
  if (load<i32>(t + TH_TID) != tid || load<i32>(t + TH_FILE) != fileId || load<i32>(t + TH_REPLACED) != 0) return false;
  lastTid = tid; lastTidFile = fileId; lastThread = idx;
  return true;
}

function binGrowTable(): void {
  const nc = binTableCap << 1;
  const nt = zalloc(<usize>nc * 4);
  const mask = nc - 1;
  for (let i = 0; i < binCount; i++) {
    const b = bins + <usize>i * BIN_STRIDE;
    let s = <i32>(hash2(load<i32>(b + BIN_THREAD), load<i32>(b + BIN_REASON)) & <u32>mask);
    while (load<i32>(nt + (<usize>s << 2)) != 0) s = (s + 1) & mask;
    store<i32>(nt + (<usize>s << 2), i + 1);
  }
  binTable = nt;
  binTableCap = nc;
}

function binOf(thread: i32, reason: i32): usize {
  const mask = binTableCap - 1;
  let s = <i32>(hash2(thread, reason) & <u32>mask);
  while (true) {
    const v = load<i32>(binTable + (<usize>s << 2));
    if (v == 0) break;
    const b = bins + <usize>(v - 1) * BIN_STRIDE;
    if (load<i32>(b + BIN_THREAD) == thread && load<i32>(b + BIN_REASON) == reason) return b;
    s = (s + 1) & mask;
  }
  if (binCount == binCap) {
    bins = regrow(bins, <usize>binCap * BIN_STRIDE, <usize>binCap * 2 * BIN_STRIDE);
    binCap <<= 1;
  }
  const idx = binCount++;
  const b = bins + <usize>idx * BIN_STRIDE;
  store<i32>(b + BIN_THREAD, thread);
  store<i32>(b + BIN_REASON, reason);
  store<i64>(b + BIN_MIN, i64.MAX_VALUE);
  store<i64>(b + BIN_MAX, i64.MIN_VALUE);
  store<i32>(b + BIN_HIST, idx);
  ensureHist(idx);
  store<i32>(binTable + (<usize>s << 2), idx + 1);
  if (binCount * 2 > binTableCap) binGrowTable();
  return b;
}

/**
 * The thread's wall time grows by each forward step between its exits and entries. A step back of
 * more than JUMP_BACK is a new capture (two files concatenated): pairing starts over, and it is counted.
 */
function step(t: usize, ts: i64): void {
  const prev = load<i64>(t + TH_PREV_TS);
  store<i64>(t + TH_PREV_TS, ts);
  if (prev == i64.MIN_VALUE) return;
  const d = ts - prev;
  if (d >= 0) store<i64>(t + TH_WALL, load<i64>(t + TH_WALL) + d);
  else if (-d > JUMP_BACK) {
    store<i32>(t + TH_JUMPS, load<i32>(t + TH_JUMPS) + 1);
    const st = load<i32>(t + TH_STATE);
    if (st == ST_HOST) store<i32>(t + TH_JUMP_DROPS, load<i32>(t + TH_JUMP_DROPS) + 1);
    if (st == ST_GUEST || st == ST_HOST) store<i32>(t + TH_STATE, ST_GAP);
  }
}

/** Add (hi, lo) to a bin's 128-bit sum of squares. */
@inline function add128(bn: usize, lo: u64, hi: u64): void {
  const l = load<u64>(bn + BIN_SUMSQ) + lo;
  store<u64>(bn + BIN_SUMSQ, l);
  store<u64>(bn + BIN_SUMSQ_HI, load<u64>(bn + BIN_SUMSQ_HI) + hi + (l < lo ? 1 : 0));
}
/** d * d (d >= 0) into a bin's sum of squares, exactly. */
@inline function addSquare(bn: usize, d: u64): void {
  if (d >> 32 == 0) { add128(bn, d * d, 0); return; }
  const a = d >> 32, b = d & 0xffffffff;
  const ab = a * b;
  const t = ab << 33;
  const lo = b * b + t;
  add128(bn, lo, a * a + (ab >> 31) + (lo < t ? 1 : 0));
}

/** Add one value to a bin: count, sum, min, max, sum of squares, histogram. */
function accumulate(bn: usize, d: i64): void {
  store<i32>(bn + BIN_HANDLED, load<i32>(bn + BIN_HANDLED) + 1);
  store<i64>(bn + BIN_SUM, load<i64>(bn + BIN_SUM) + d);
  if (d < load<i64>(bn + BIN_MIN)) store<i64>(bn + BIN_MIN, d);
  if (d > load<i64>(bn + BIN_MAX)) store<i64>(bn + BIN_MAX, d);
  addSquare(bn, <u64>d);
  histLog(load<i32>(bn + BIN_HIST), bucketOf(d));
}

/**
 * The index of thread ti's bin of `key`, with the thread (record t) keeping the last key it asked for at
 * t + keyAt and that bin's index + 1 at t + binAt (0: none yet): no hash lookup when the key repeats, as a
 * vCPU's exit reasons and the MSRs and ports it touches mostly do. Bins never move or go away within a core.
 * (keyAt, binAt): (TH_EXIT_BIN_KEY, TH_EXIT_BIN) for exit reasons, (TH_SUB_BIN_KEY, TH_SUB_BIN) for sub-keys.
 * Inline: an exit's repeated reason then costs two loads and a compare, as when it was written out in onEvent.
 */
// @ts-ignore: decorator
@inline function lastBin(ti: i32, t: usize, keyAt: usize, binAt: usize, key: i32): i32 {
  const last = load<i32>(t + binAt);
  if (last != 0 && load<i32>(t + keyAt) == key) return last - 1;
  const idx = <i32>((binOf(ti, key) - bins) / BIN_STRIDE);
  store<i32>(t + keyAt, key);
  store<i32>(t + binAt, idx + 1);
  return idx;
}
/** Thread ti's bin of sub-key `sub` (msr, pio, mmio, wfx, hvc), through lastBin. */
// @ts-ignore: decorator
@inline function subBinOf(ti: i32, t: usize, sub: i32): usize {
  const idx = lastBin(ti, t, TH_SUB_BIN_KEY, TH_SUB_BIN, sub | SUBKEY_FLAG); // (may move the bins: read them after)
  return bins + <usize>idx * BIN_STRIDE;
}

/** Add v (negative: 0) to thread ti's metric bin m (M_*), found through the thread's TH_METRIC_BINS. */
function metric(ti: i32, m: i32, v: i64): void {
  if (v < 0) v = 0;
  const slot = threads + <usize>ti * TH_STRIDE + TH_METRIC_BINS + (<usize>(-2 - m) << 2);
  let idx = load<i32>(slot) - 1;
  if (idx < 0) {
    idx = <i32>((binOf(ti, m) - bins) / BIN_STRIDE); // (moves bins, never threads)
    store<i32>(slot, idx + 1);
  }
  accumulate(bins + <usize>idx * BIN_STRIDE, v);
}

/** Threads that have shown themselves as vCPU threads so far (the memory budget: they cost the summary far more). */
export function kvmThreadCount(): i32 {
  let n = 0;
  for (let i = 0; i < threadCount; i++) if (kvmSeen(threads + <usize>i * TH_STRIDE)) n++;
  return n;
}

/** A thread that has shown itself as a vCPU thread (any kvm event). */
function kvmSeen(t: usize): bool {
  return load<i32>(t + TH_EXITS) + load<i32>(t + TH_ENTRIES) + load<i32>(t + TH_KVM_EVENTS) > 0;
}
/** Follow this thread's scheduling: a vCPU thread, or any thread in a later slice of a file. */
function isVcpu(t: usize): bool {
  return trackAll || kvmSeen(t);
}
/** A worker reading a later slice of a file does not know yet which threads are vCPUs: it tracks all. */
export let trackAll: bool = false;
export function setTrackAll(on: bool): void { trackAll = on; }

// ---- sub-keys: "msr 0x6e0 w", "pio 0x80 w", "mmio 0xfee000b0 r" as dictionary ids ----
const keyBuf: usize = zalloc(64);
// (kind, value, write) -> id + 1, direct-mapped: the same few MSRs and ports come again and again
const SUB_SLOTS: usize = 1024;
let subCache: usize = 0;
function subKey(kind: i32, v: i64, write: bool): i32 {
  const tag = (kind << 1) | (write ? 1 : 0);
  const slot = subCache + (((<usize>(<u64>v * 0x9e3779b97f4a7c15 >> 54) ^ <usize>tag) & (SUB_SLOTS - 1)) << 4);
  if (load<i64>(slot) == v && load<i32>(slot + 8) == tag && load<i32>(slot + 12) != 0) return load<i32>(slot + 12) - 1;
  const id = subKeyIntern(kind, v, write);
  // an id given in place of a name (the dictionary is full) is not kept: each such call counts
  if (id != overflowId) { store<i64>(slot, v); store<i32>(slot + 8, tag); store<i32>(slot + 12, id + 1); }
  return id;
}
function subKeyIntern(kind: i32, v: i64, write: bool): i32 {
  let p = keyBuf;
  // prefix
  if (kind == EV_MSR) { store<u8>(p, 109); store<u8>(p + 1, 115); store<u8>(p + 2, 114); p += 3; } // "msr"
  else if (kind == EV_PIO) { store<u8>(p, 112); store<u8>(p + 1, 105); store<u8>(p + 2, 111); p += 3; } // "pio"
  else if (kind == EV_WFX) { store<u8>(p, 119); store<u8>(p + 1, 102); store<u8>(p + 2, 120); p += 3; } // "wfx"
  else if (kind == EV_HVC) { store<u8>(p, 104); store<u8>(p + 1, 118); store<u8>(p + 2, 99); p += 3; } // "hvc"
  else { store<u8>(p, 109); store<u8>(p + 1, 109); store<u8>(p + 2, 105); store<u8>(p + 3, 111); p += 4; } // "mmio"
  store<u8>(p, 32); store<u8>(p + 1, 48); store<u8>(p + 2, 120); p += 3; // " 0x"
  let n = 1;
  let x = <u64>v >> 4;
  while (x != 0) { n++; x >>= 4; }
  for (let i = n - 1; i >= 0; i--) {
    const d = <u32>((<u64>v >> (<u64>i * 4)) & 15);
    store<u8>(p, <u8>(d < 10 ? 48 + d : 87 + d));
    p++;
  }
  store<u8>(p, 32);
  store<u8>(p + 1, write ? 119 : 114); // "w" / "r"
  p += 2;
  return internCached(keyBuf, <i32>(p - keyBuf));
}

/** Histogram bucket of a non-negative value. */
// @ts-ignore: decorator
@inline export function bucketOf(v: i64): i32 {
  if (v < 128) return v < 0 ? 0 : <i32>v;
  const e = 63 - <i32>clz<i64>(v);
  if (e > 45) return HIST_BUCKETS - 1;
  const shift = e - 6;
  const sub = <i32>(v >> shift);
  return 128 + (e - 7) * 64 + (sub - 64);
}

// The heap's order: its root is evicted first: the shortest, and of equally long ones the latest in the file. The
// exits kept are then the N longest, ties going to the earliest, whatever order they came in: as --jobs merges
// the slices' own top N (src/wasm/merge.ts sorts by duration, then by line).
// @ts-ignore: decorator
@inline function evictsFirst(da: i64, wa: i64, db: i64, wb: i64): bool { return da < db || (da == db && wa > wb); }

function topInsert(d: i64, ts: i64, where: i64, thread: i32, reason: i32): void {
  if (topCap <= 0) return;
  if (topCount < topCap) {
    // sift up
    let i = topCount++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pp = top + <usize>parent * TOP_STRIDE;
      if (evictsFirst(load<i64>(pp), load<i64>(pp + 16), d, where)) break;
      memory.copy(top + <usize>i * TOP_STRIDE, pp, TOP_STRIDE);
      i = parent;
    }
    const p = top + <usize>i * TOP_STRIDE;
    store<i64>(p, d); store<i64>(p + 8, ts); store<i64>(p + 16, where); store<i32>(p + 24, thread); store<i32>(p + 28, reason);
    return;
  }
  if (!evictsFirst(load<i64>(top), load<i64>(top + 16), d, where)) return;
  // replace the root, sift down
  let i = 0;
  while (true) {
    const l = 2 * i + 1;
    if (l >= topCount) break;
    let c = l;
    const lp = top + <usize>l * TOP_STRIDE;
    if (l + 1 < topCount) {
      const rp = lp + TOP_STRIDE;
      if (evictsFirst(load<i64>(rp), load<i64>(rp + 16), load<i64>(lp), load<i64>(lp + 16))) c = l + 1;
    }
    const cp = top + <usize>c * TOP_STRIDE;
    if (evictsFirst(d, where, load<i64>(cp), load<i64>(cp + 16))) break;
    memory.copy(top + <usize>i * TOP_STRIDE, cp, TOP_STRIDE);
    i = c;
  }
  const p = top + <usize>i * TOP_STRIDE;
  store<i64>(p, d); store<i64>(p + 8, ts); store<i64>(p + 16, where); store<i32>(p + 24, thread); store<i32>(p + 28, reason);
}

/** Events were lost on `cpu` (-1: on an unknown CPU): pairing across the gap would be wrong. */
function lostOn(cpu: i32, n: i64): void {
  counterAdd(C_LOST_MARKERS, 1);
  counterAdd(C_LOST_EVENTS, n);
  for (let i = 0; i < threadCount; i++) {
    const t = threads + <usize>i * TH_STRIDE;
    if (load<i32>(t + TH_FILE) != fileId) continue;
    if (cpu >= 0 && load<i32>(t + TH_LAST_CPU) != cpu) continue;
    const st = load<i32>(t + TH_STATE);
    if (st == ST_GUEST || st == ST_HOST) {
      store<i32>(t + TH_STATE, ST_GAP);
      store<i32>(t + TH_LOST_RESETS, load<i32>(t + TH_LOST_RESETS) + 1);
    }
  }
}

/** One event from any reader. */
export function onEvent(kind: i32, ts: i64, tid: i32, tgid: i32, cpu: i32, vcpu: i32, a: i64, b: i64, c: i32, name: i32, where: i64): void {
  if (kind == EV_EXIT_INFO) { exitInfo(tid, tgid, a, b, c); return; }
  counterAdd(C_EVENTS, 1);
  if (name >= 0) countName(name);
  if (kind == EV_LOST) { lostOn(cpu, a); return; }
  if (ts < counterGet(C_FIRST_TS)) counterSet(C_FIRST_TS, ts);
  if (ts > counterGet(C_LAST_TS)) counterSet(C_LAST_TS, ts);
  if (ts > segEnd) segEnd = ts;
  else if (ts < segEnd - SEG_GAP_NS) newSegment(ts, where);
  if (counterGet(C_SEGMENTS) == 0) newSegment(ts, where);
  // the timeline starts at the file's first event (a slice of a file is given its file's origin)
  if (tlOrigin == i64.MIN_VALUE) tlOrigin = ts;
  if (kind == EV_OTHER || kind == EV_PAGE_FAULT) {
    if (tid >= 0 && nestedActive()) nestedOther(threadOf(tid, tgid), name, ts);
    if (vcpu >= 0 && tid >= 0) {
      const o = threads + <usize>threadOf(tid, tgid) * TH_STRIDE;
      if (load<i32>(o + TH_VCPU) < 0) store<i32>(o + TH_VCPU, vcpu);
    }
    if (kind == EV_PAGE_FAULT) pageFault(tid, tgid, a);
    return;
  }
  const ti = threadOf(tid, tgid);
  const t = threads + <usize>ti * TH_STRIDE;
  store<i32>(t + TH_EVENTS, load<i32>(t + TH_EVENTS) + 1);
  if (tgid >= 0 && load<i32>(t + TH_TGID) < 0) store<i32>(t + TH_TGID, tgid);
  if (cpu >= 0) {
    // where the thread runs: pinned vCPUs stay on one host CPU
    const last = load<i32>(t + TH_LAST_CPU);
    if (last != cpu) {
      if (last >= 0) store<i32>(t + TH_MIGRATIONS, load<i32>(t + TH_MIGRATIONS) + 1);
      store<i64>(t + TH_CPU_MASK, load<i64>(t + TH_CPU_MASK) | (<i64>1 << <i64>(cpu < 63 ? cpu : 63)));
      store<i32>(t + TH_LAST_CPU, cpu);
    }
  }
  if (kind == EV_EXIT || kind == EV_ENTRY) step(t, ts);
  if ((kind == EV_EXIT || kind == EV_ENTRY) && nestedActive()) nestedStep(ti, kind == EV_ENTRY, <i32>a, ts);
  if (kind == EV_EXIT) {
    if (vcpu >= 0 && load<i32>(t + TH_VCPU) < 0) store<i32>(t + TH_VCPU, vcpu);
    if (ts < load<i64>(t + TH_FIRST_TS)) store<i64>(t + TH_FIRST_TS, ts);
    if (ts > load<i64>(t + TH_LAST_TS)) store<i64>(t + TH_LAST_TS, ts);
    store<i32>(t + TH_EXITS, load<i32>(t + TH_EXITS) + 1);
    const binIdx = lastBin(ti, t, TH_EXIT_BIN_KEY, TH_EXIT_BIN, <i32>a); // the reason's bin
    const bn = bins + <usize>binIdx * BIN_STRIDE;
    store<i32>(bn + BIN_SEEN, load<i32>(bn + BIN_SEEN) + 1);
    if (c & EXITF_FAILED_VMENTRY) store<i32>(bn + BIN_FAILED, load<i32>(bn + BIN_FAILED) + 1);
    const st = load<i32>(t + TH_STATE);
    let guestBefore: i64 = -1;
    if (st == ST_HOST) {
      store<i32>(t + TH_EXIT_NO_ENTRY, load<i32>(t + TH_EXIT_NO_ENTRY) + 1);
    } else if (st == ST_GUEST) {
      const g = ts - load<i64>(t + TH_LAST_ENTRY_TS);
      if (g >= 0) { store<i64>(t + TH_GUEST, load<i64>(t + TH_GUEST) + g); guestBefore = g; }
    }
    store<i64>(t + TH_PEND_GUEST, guestBefore);
    tlCount(t, ts);
    store<i32>(t + TH_STATE, ST_HOST);
    store<i32>(t + TH_PEND_REASON, <i32>a);
    store<i64>(t + TH_PEND_TS, ts);
    store<i64>(t + TH_PEND_WHERE, where);
    store<i32>(t + TH_PEND_FLAGS, c);
    store<i32>(t + TH_PEND_SUB, -1);
    store<i32>(t + TH_PEND_BIN, binIdx);
    store<i64>(t + TH_PEND_USER_TS, i64.MIN_VALUE);
    store<i64>(t + TH_PEND_PREEMPT_NS, 0);
    store<i64>(t + TH_PREEMPT_OUT_TS, i64.MIN_VALUE);
    if (ripOn || rowCap > 0) store<i64>(t + TH_PEND_RIP, b);
    store<i64>(t + TH_PEND_GPA, <i32>a == eptReason ? -2 : -1);
    store<i32>(t + TH_PEND_CPU, cpu);
    store<i32>(t + TH_PEND_DETAIL, 0);
    return;
  }
  if (kind == EV_ENTRY) {
    // perf kvm stat learns a thread's vCPU from its kvm_entry
    if (vcpu >= 0 && load<i32>(t + TH_VCPU) < 0) store<i32>(t + TH_VCPU, vcpu);
    if (ts < load<i64>(t + TH_FIRST_TS)) store<i64>(t + TH_FIRST_TS, ts);
    if (ts > load<i64>(t + TH_LAST_TS)) store<i64>(t + TH_LAST_TS, ts);
    store<i32>(t + TH_ENTRIES, load<i32>(t + TH_ENTRIES) + 1);
    const st = load<i32>(t + TH_STATE);
    if (st == ST_HOST) {
      const d = ts - load<i64>(t + TH_PEND_TS);
      if (d < 0) {
        store<i32>(t + TH_BACKWARDS, load<i32>(t + TH_BACKWARDS) + 1);
      } else {
        const reason = load<i32>(t + TH_PEND_REASON);
        accumulate(bins + <usize>load<i32>(t + TH_PEND_BIN) * BIN_STRIDE, d);
        const sub = load<i32>(t + TH_PEND_SUB);
        if (sub >= 0) accumulate(subBinOf(ti, t, sub), d);
        store<i64>(t + TH_HOST, load<i64>(t + TH_HOST) + d);
        store<i32>(t + TH_HANDLED, load<i32>(t + TH_HANDLED) + 1);
        topInsert(d, load<i64>(t + TH_PEND_TS), load<i64>(t + TH_PEND_WHERE), ti, reason);
        row(ROWK_EXIT, load<i64>(t + TH_PEND_TS), d, load<i64>(t + TH_PEND_GUEST), load<i64>(t + TH_PEND_WHERE), ti, reason, sub);
        if (ripOn) ripAdd(load<i32>(t + TH_PEND_BIN), load<i64>(t + TH_PEND_RIP), d);
        if (gpaOn) { const g = load<i64>(t + TH_PEND_GPA); if (g >= 0) gpaAdd(load<i32>(t + TH_PEND_BIN), g >> 12, d); }
        // preempted inside the handling (switched out runnable, before any userspace exit)
        let pre = load<i64>(t + TH_PEND_PREEMPT_NS);
        const po = load<i64>(t + TH_PREEMPT_OUT_TS);
        if (po != i64.MIN_VALUE && ts >= po) pre += ts - po; // no switch-in recorded before the entry
        if (pre > 0) {
          const pb = bins + <usize>load<i32>(t + TH_PEND_BIN) * BIN_STRIDE;
          store<i64>(pb + BIN_PREEMPT_NS, load<i64>(pb + BIN_PREEMPT_NS) + pre);
          store<i32>(pb + BIN_PREEMPT_N, load<i32>(pb + BIN_PREEMPT_N) + 1);
        }
        // the VMM's part: from the exit's first kvm_userspace_exit to this entry
        const u0 = load<i64>(t + TH_PEND_USER_TS);
        if (u0 != i64.MIN_VALUE && ts >= u0 && u0 >= load<i64>(t + TH_PEND_TS)) {
          const rb = bins + <usize>load<i32>(t + TH_PEND_BIN) * BIN_STRIDE;
          store<i64>(rb + BIN_USER_NS, load<i64>(rb + BIN_USER_NS) + (ts - u0));
          store<i32>(rb + BIN_USER_N, load<i32>(rb + BIN_USER_N) + 1);
          if (sub >= 0) {
            const sb = subBinOf(ti, t, sub);
            store<i64>(sb + BIN_USER_NS, load<i64>(sb + BIN_USER_NS) + (ts - u0));
            store<i32>(sb + BIN_USER_N, load<i32>(sb + BIN_USER_N) + 1);
          }
        }
      }
    } else if (st == ST_NONE) {
      store<i32>(t + TH_LEADING_ENTRY, 1);
    } else if (st == ST_GUEST) {
      store<i32>(t + TH_ENTRY_NO_EXIT, load<i32>(t + TH_ENTRY_NO_EXIT) + 1);
    }
    store<i32>(t + TH_STATE, ST_GUEST);
    store<i64>(t + TH_LAST_ENTRY_TS, ts);
    const wt = load<i64>(t + TH_WAKE_TS);
    const swt = load<i64>(t + TH_SCHED_WAKE_TS);
    store<i64>(t + TH_WAKE_TS, i64.MIN_VALUE);
    store<i64>(t + TH_SCHED_WAKE_TS, i64.MIN_VALUE);
    if (wt != i64.MIN_VALUE) metric(ti, M_WAKE_TO_ENTRY, ts - wt);
    if (swt != i64.MIN_VALUE) metric(ti, M_SCHED_WAKE_TO_ENTRY, ts - swt);
    return;
  }
  if (kind == EV_SCHED_SWITCH) { schedSwitch(ts, <i32>a, <i32>b, c); return; }
  if (kind == EV_SCHED_WAKEUP) { schedWakeup(ts, <i32>a); return; }
  // kvm_wfx_arm64 / kvm_hvc_arm64 were counted by name only before they keyed exits: a thread's kvm_events stays as it was
  if (kind != EV_WFX && kind != EV_HVC) store<i32>(t + TH_KVM_EVENTS, load<i32>(t + TH_KVM_EVENTS) + 1);
  if (vcpu >= 0 && load<i32>(t + TH_VCPU) < 0) store<i32>(t + TH_VCPU, vcpu);
  if (kind == EV_VCPU_WAKEUP) { haltWakeup(ti, ts, a, c, where); return; }
  if (kind == EV_USERSPACE_EXIT) {
    const st = load<i32>(t + TH_STATE);
    if (st == ST_HOST && load<i64>(t + TH_PEND_USER_TS) == i64.MIN_VALUE) store<i64>(t + TH_PEND_USER_TS, ts);
    // before the thread's first exit/entry (in a later slice: part of an exit pending at the cut, wasm/merge.ts)
    else if (st == ST_NONE && load<i64>(t + TH_PRE_EXIT_USER_TS) == i64.MIN_VALUE) store<i64>(t + TH_PRE_EXIT_USER_TS, ts);
    return;
  }
  if (kind == EV_HALT_POLL_NS) { haltPollNs(ti, ts, a, b, c); return; }
  if (kind == EV_MSR || kind == EV_PIO || kind == EV_MMIO || kind == EV_WFX || kind == EV_HVC) {
    // arm64: kvm_wfx_arm64 keys its exit by WFI (0) / WFE (1), kvm_hvc_arm64 by r0; both as "r"
    const sub = subKey(kind, kind == EV_WFX ? (a == 0 || a == 1 ? a : 2) : a, kind == EV_WFX || kind == EV_HVC ? false : (c & 1) != 0);
    const bn = subBinOf(ti, t, sub);
    store<i32>(bn + BIN_SEEN, load<i32>(bn + BIN_SEEN) + 1);
    const t2 = threads + <usize>ti * TH_STRIDE;
    const st2 = load<i32>(t2 + TH_STATE);
    if (st2 == ST_HOST && load<i32>(t2 + TH_PEND_SUB) < 0) store<i32>(t2 + TH_PEND_SUB, sub);
    else if (st2 == ST_NONE && load<i32>(t2 + TH_PRE_EXIT_SUB) < 0) store<i32>(t2 + TH_PRE_EXIT_SUB, sub);
    return;
  }
  if (kind == EV_WAIT_LAPIC_EXPIRE) {
    store<i32>(t + TH_LAPIC, load<i32>(t + TH_LAPIC) + 1);
    row(ROWK_LAPIC, ts, a, -1, where, ti, -1, -1);
    if (a < 0) metric(ti, M_LAPIC_EARLY, -a);
    else metric(ti, M_LAPIC_LATE, a);
    return;
  }
  if (kind == EV_PLE_WINDOW) {
    if (a > b) store<i32>(t + TH_PLE_GROWS, load<i32>(t + TH_PLE_GROWS) + 1);
    else if (a < b) store<i32>(t + TH_PLE_SHRINKS, load<i32>(t + TH_PLE_SHRINKS) + 1);
    store<i32>(t + TH_PLE_LAST, <i32>a);
  }
}

// ---- a later slice's wake-ups before each thread's first kvm_halt_poll_ns, one by one ----
// One core reading the whole file counts each such halt with the window the earlier slices ended with (or
// with the start window of a halt the cut splits); a later slice does not know it. Its core keeps them as
// they came, (thread i32, PW_* flags i32, halt ns i64), and leaves them unsettled for the merge
// (src/wasm/merge.ts), which counts them as that core would have. At most PW_MAX per core.
let pwList: usize = 0;
let pwCount: i32 = 0;
let pwCap: i32 = 0;
export function preWakesPtr(): usize { return pwList; }
export function preWakesCount(): i32 { return pwCount; }
function pwKeep(t: usize, ti: i32, n: i64, poll: bool, valid: bool): void {
  if (pwCount == pwCap) {
    if (pwCap >= PW_MAX) return; // not kept: preWindowListed stays below preWindowWakes
    const nc = pwCap == 0 ? 4096 : pwCap << 1;
    pwList = regrow(pwList, <usize>pwCap << 4, <usize>nc << 4);
    pwCap = nc;
  }
  const e = pwList + (<usize>pwCount << 4);
  store<i32>(e, ti);
  store<i32>(e + 4, (poll ? PW_POLL : 0) | (valid ? PW_VALID : 0));
  store<i64>(e + 8, n);
  pwCount++;
  store<i32>(t + TH_PRE_WINDOW_LISTED, load<i32>(t + TH_PRE_WINDOW_LISTED) + 1);
}

/** kvm_vcpu_wakeup: the end of a halt of `n` ns (poll + blocked). */
function haltWakeup(ti: i32, ts: i64, n: i64, c: i32, where: i64): void {
  let t = threads + <usize>ti * TH_STRIDE;
  {
    const f = load<i32>(t + TH_HP_FLAGS);
    const known = (f & HPF_KNOWN) != 0;
    const w = known ? ((f & HPF_CHANGED) ? load<i64>(t + TH_HP_START_WINDOW) : load<i64>(t + TH_HP_WINDOW)) : -1;
    row(ROWK_HALT, ts, n, w, where, ti, c, -1);
  }
  store<i32>(t + TH_HALT_WAKES, load<i32>(t + TH_HALT_WAKES) + 1);
  const poll = (c & WAKE_WAITED) == 0;
  const valid = (c & WAKE_VALID) != 0;
  if (poll) {
    store<i32>(t + TH_WAKE_POLL, load<i32>(t + TH_WAKE_POLL) + 1);
    store<i64>(t + TH_WAKE_POLL_NS, load<i64>(t + TH_WAKE_POLL_NS) + n);
  } else {
    store<i32>(t + TH_WAKE_WAIT, load<i32>(t + TH_WAKE_WAIT) + 1);
    store<i64>(t + TH_WAKE_WAIT_NS, load<i64>(t + TH_WAKE_WAIT_NS) + n);
  }
  if (!valid) store<i32>(t + TH_WAKE_INVALID, load<i32>(t + TH_WAKE_INVALID) + 1);
  store<i64>(t + TH_WAKE_TS, ts);
  // before the thread's first exit/entry: kept apart for merging slices of a file
  if (load<i32>(t + TH_STATE) == ST_NONE) {
    store<i32>(t + TH_PRE_EXIT_WAKES, load<i32>(t + TH_PRE_EXIT_WAKES) + 1);
    if (poll) {
      store<i32>(t + TH_PRE_EXIT_WAKE_POLLS, load<i32>(t + TH_PRE_EXIT_WAKE_POLLS) + 1);
      store<i64>(t + TH_PRE_EXIT_POLL_NS, load<i64>(t + TH_PRE_EXIT_POLL_NS) + n);
    } else store<i64>(t + TH_PRE_EXIT_WAIT_NS, load<i64>(t + TH_PRE_EXIT_WAIT_NS) + n);
  }
  // the halt happened inside the pending exit (HLT): explain its handling time
  if (load<i32>(t + TH_STATE) == ST_HOST) {
    const bn = bins + <usize>load<i32>(t + TH_PEND_BIN) * BIN_STRIDE; // (ST_HOST is always set with its bin)
    store<i32>(bn + BIN_WAKES, load<i32>(bn + BIN_WAKES) + 1);
    if (poll) {
      store<i32>(bn + BIN_WAKE_POLLS, load<i32>(bn + BIN_WAKE_POLLS) + 1);
      store<i64>(bn + BIN_WAKE_POLL_NS, load<i64>(bn + BIN_WAKE_POLL_NS) + n);
    } else store<i64>(bn + BIN_WAKE_WAIT_NS, load<i64>(bn + BIN_WAKE_WAIT_NS) + n);
  }
  const flags = load<i32>(t + TH_HP_FLAGS);
  store<i32>(t + TH_HP_FLAGS, flags & ~HPF_CHANGED);
  if (!(flags & HPF_KNOWN)) {
    // the window is not known yet: it is the "old" of the first kvm_halt_poll_ns, settled then
    store<i32>(t + TH_PRE_WINDOW_WAKES, load<i32>(t + TH_PRE_WINDOW_WAKES) + 1);
    if (trackAll) pwKeep(t, ti, n, poll, valid);
    if (poll) {
      store<i32>(t + TH_PRE_WINDOW_POLLS, load<i32>(t + TH_PRE_WINDOW_POLLS) + 1);
      store<i64>(t + TH_PRE_WINDOW_POLL_NS, load<i64>(t + TH_PRE_WINDOW_POLL_NS) + n);
      if (!valid) store<i32>(t + TH_PRE_WINDOW_INVALID, load<i32>(t + TH_PRE_WINDOW_INVALID) + 1);
      // (a later slice: a poll counts only if the window it started with was non-zero, which the merge knows)
      metric(ti, trackAll ? M_PRE_POLL : M_HALT_POLL_OK, n);
    } else {
      store<i32>(t + TH_PRE_WINDOW_WAITS, load<i32>(t + TH_PRE_WINDOW_WAITS) + 1);
      store<i64>(t + TH_PRE_WINDOW_WAIT_NS, load<i64>(t + TH_PRE_WINDOW_WAIT_NS) + n);
      metric(ti, M_HALT_WAIT, n);
      metric(ti, M_PRE_WAIT, n);
    }
    return;
  }
  // kvm_vcpu_halt(): it polls when the window is non-zero at the halt's start; the halt "succeeds" when
  // the vCPU never blocked; a failed poll polled the whole window, then blocked (halt_wait_ns)
  const w = (flags & HPF_CHANGED) ? load<i64>(t + TH_HP_START_WINDOW) : load<i64>(t + TH_HP_WINDOW);
  if (w > 0) {
    store<i32>(t + TH_HP_ATTEMPTED, load<i32>(t + TH_HP_ATTEMPTED) + 1);
    if (poll) {
      store<i32>(t + TH_HP_SUCCESS, load<i32>(t + TH_HP_SUCCESS) + 1);
      // KVM adds only the polling part (poll_end - start); the traced halt time also counts a wake-up
      // that came after the poll loop ended but before the vCPU blocked: this sum is an upper bound
      store<i64>(t + TH_HP_SUCCESS_NS, load<i64>(t + TH_HP_SUCCESS_NS) + n);
      if (!valid) store<i32>(t + TH_HP_INVALID, load<i32>(t + TH_HP_INVALID) + 1);
      metric(ti, M_HALT_POLL_OK, n);
    } else {
      const f = w < n ? w : n;
      store<i64>(t + TH_HP_FAIL_NS, load<i64>(t + TH_HP_FAIL_NS) + f);
      store<i64>(t + TH_HP_WAIT_NS, load<i64>(t + TH_HP_WAIT_NS) + (n - f));
      metric(ti, M_HALT_WAIT, n);
      metric(ti, M_HALT_BLOCKED, n - f);
    }
    metric(ti, M_HALT_POLL_ATTEMPT_WIN, w);
  } else if (!poll) {
    store<i64>(t + TH_HP_WAIT_NS, load<i64>(t + TH_HP_WAIT_NS) + n);
    metric(ti, M_HALT_WAIT, n);
    metric(ti, M_HALT_BLOCKED, n);
  }
}

/** kvm_halt_poll_ns: the window grew or shrank (at the end of a halt, before its kvm_vcpu_wakeup). */
function haltPollNs(ti: i32, ts: i64, nw: i64, old: i64, grow: i32): void {
  const t = threads + <usize>ti * TH_STRIDE;
  let flags = load<i32>(t + TH_HP_FLAGS);
  if (!(flags & HPF_CHANGED)) {
    store<i64>(t + TH_HP_START_WINDOW, old);
    flags |= HPF_CHANGED;
  }
  if (!(flags & HPF_KNOWN)) {
    flags |= HPF_KNOWN;
    // settle the halts seen before: they all started with this window (a later slice leaves them to the
    // merge, which knows the window they started with: pwKeep)
    if (!trackAll) {
      const waits = <i64>load<i32>(t + TH_PRE_WINDOW_WAITS);
      const waitNs = load<i64>(t + TH_PRE_WINDOW_WAIT_NS);
      if (old > 0) {
        store<i32>(t + TH_HP_ATTEMPTED, load<i32>(t + TH_HP_ATTEMPTED) + load<i32>(t + TH_PRE_WINDOW_WAKES));
        store<i32>(t + TH_HP_SUCCESS, load<i32>(t + TH_HP_SUCCESS) + load<i32>(t + TH_PRE_WINDOW_POLLS));
        store<i32>(t + TH_HP_INVALID, load<i32>(t + TH_HP_INVALID) + load<i32>(t + TH_PRE_WINDOW_INVALID));
        store<i64>(t + TH_HP_SUCCESS_NS, load<i64>(t + TH_HP_SUCCESS_NS) + load<i64>(t + TH_PRE_WINDOW_POLL_NS));
        let f = waits * old;
        if (f > waitNs) f = waitNs;
        store<i64>(t + TH_HP_FAIL_NS, load<i64>(t + TH_HP_FAIL_NS) + f);
        store<i64>(t + TH_HP_WAIT_NS, load<i64>(t + TH_HP_WAIT_NS) + waitNs - f);
      } else {
        store<i64>(t + TH_HP_WAIT_NS, load<i64>(t + TH_HP_WAIT_NS) + waitNs);
      }
      settlePreWaits(ti, old);
    }
    store<i64>(t + TH_HP_FIRST_TS, ts);
    store<i64>(t + TH_HP_FIRST_OLD_WINDOW, old);
    store<i64>(t + TH_HP_WIN_TS, ts);
  } else {
    const dt = ts - load<i64>(t + TH_HP_WIN_TS);
    if (dt > 0) store<f64>(t + TH_HP_WIN_AREA, load<f64>(t + TH_HP_WIN_AREA) + <f64>load<i64>(t + TH_HP_WINDOW) * <f64>dt);
    store<i64>(t + TH_HP_WIN_TS, ts);
  }
  store<i32>(t + TH_HP_FLAGS, flags);
  store<i64>(t + TH_HP_WINDOW, nw);
  if (nw > load<i64>(t + TH_HP_MAX)) store<i64>(t + TH_HP_MAX, nw);
  const dir = grow ? 1 : 2;
  const last = load<i32>(t + TH_HP_LAST_DIRECTION);
  if (last == 0) store<i32>(t + TH_HP_FIRST_DIRECTION, dir);
  if (last != 0 && last != dir) store<i32>(t + TH_HP_FLIPS, load<i32>(t + TH_HP_FLIPS) + 1);
  store<i32>(t + TH_HP_LAST_DIRECTION, dir);
  if (grow) store<i32>(t + TH_HP_GROWS, load<i32>(t + TH_HP_GROWS) + 1);
  else store<i32>(t + TH_HP_SHRINKS, load<i32>(t + TH_HP_SHRINKS) + 1);
}

/** The waits seen before the window was known blocked for their halt time less the window `w`. */
function settlePreWaits(ti: i32, w: i64): void {
  histFlush();
  const mask = binTableCap - 1;
  let s = <i32>(hash2(ti, M_PRE_WAIT) & <u32>mask);
  let pre: usize = 0;
  while (true) {
    const v = load<i32>(binTable + (<usize>s << 2));
    if (v == 0) break;
    const b = bins + <usize>(v - 1) * BIN_STRIDE;
    if (load<i32>(b + BIN_THREAD) == ti && load<i32>(b + BIN_REASON) == M_PRE_WAIT) { pre = b; break; }
    s = (s + 1) & mask;
  }
  if (!pre || load<i32>(pre + BIN_HANDLED) == 0) return;
  const preIdx = (pre - bins) / BIN_STRIDE;
  const blocked = binOf(ti, M_HALT_BLOCKED); // may move the bin and histogram tables
  const pre2 = bins + preIdx * BIN_STRIDE;
  const ph2 = histAddr(load<i32>(pre2 + BIN_HIST));
  if (w == 0) {
    // exact: each wait blocked for its whole halt
    const bh = histAddr(load<i32>(blocked + BIN_HIST));
    for (let i = 0; i < HIST_BUCKETS; i++) { const n = histGet(ph2, i); if (n) histAdd(bh, i, n); }
    store<i32>(blocked + BIN_HANDLED, load<i32>(blocked + BIN_HANDLED) + load<i32>(pre2 + BIN_HANDLED));
    store<i64>(blocked + BIN_SUM, load<i64>(blocked + BIN_SUM) + load<i64>(pre2 + BIN_SUM));
    add128(blocked, load<u64>(pre2 + BIN_SUMSQ), load<u64>(pre2 + BIN_SUMSQ_HI));
    if (load<i64>(pre2 + BIN_MIN) < load<i64>(blocked + BIN_MIN)) store<i64>(blocked + BIN_MIN, load<i64>(pre2 + BIN_MIN));
    if (load<i64>(pre2 + BIN_MAX) > load<i64>(blocked + BIN_MAX)) store<i64>(blocked + BIN_MAX, load<i64>(pre2 + BIN_MAX));
  } else {
    // each wait blocked for its halt time less the window: taken at the bucket's value
    for (let i = 0; i < HIST_BUCKETS; i++) {
      const n = histGet(ph2, i);
      if (n == 0) continue;
      const v = bucketValueOf(i) - w;
      for (let k: u32 = 0; k < n; k++) accumulate(blocked, v < 0 ? 0 : v);
    }
  }
  // emptied
  for (let pgi = 0; pgi < HIST_PAGES; pgi++) {
    const pg = <usize>load<u32>(ph2 + (<usize>pgi << 2));
    if (pg) memory.fill(pg, 0, <usize>HIST_PAGE * 4);
  }
  store<i32>(pre2 + BIN_HANDLED, 0);
  store<i64>(pre2 + BIN_SUM, 0);
  store<u64>(pre2 + BIN_SUMSQ, 0);
  store<u64>(pre2 + BIN_SUMSQ_HI, 0);
  store<i64>(pre2 + BIN_MIN, i64.MAX_VALUE);
  store<i64>(pre2 + BIN_MAX, i64.MIN_VALUE);
}

/** The representative value of histogram bucket i (exact below 128, else its midpoint). */
function bucketValueOf(i: i32): i64 {
  if (i < 128) return <i64>i;
  const e = 7 + ((i - 128) >> 6);
  const sub = <i64>(64 + ((i - 128) & 63));
  const shift = <i64>(e - 6);
  return ((sub << shift) + ((sub + 1) << shift) - 1) / 2;
}

/** sched_switch from `prev` (state: first letter of prev_state) to `next`. */
function schedSwitch(ts: i64, next: i32, state: i32, prev: i32): void {
  if (prev >= 0) {
    const pi = threadOf(prev, -1);
    const p = threads + <usize>pi * TH_STRIDE;
    if (isVcpu(p)) {
      const pk = !kvmSeen(p); // a later slice, before this thread's first kvm event
      if (state == 82) { // 'R': preempted, still runnable
        if (load<i64>(p + TH_RUNNABLE_TS) == i64.MIN_VALUE) store<i64>(p + TH_RUNNABLE_TS, ts);
        const st = load<i32>(p + TH_STATE);
        if (st == ST_HOST && load<i64>(p + TH_PEND_USER_TS) == i64.MIN_VALUE && load<i64>(p + TH_PREEMPT_OUT_TS) == i64.MIN_VALUE) store<i64>(p + TH_PREEMPT_OUT_TS, ts);
        else if (st == ST_NONE && load<i64>(p + TH_PRE_EXIT_USER_TS) == i64.MIN_VALUE && load<i64>(p + TH_PRE_EXIT_PREEMPT_OUT_TS) == i64.MIN_VALUE) store<i64>(p + TH_PRE_EXIT_PREEMPT_OUT_TS, ts);
        if (pk) store<i32>(p + TH_PRE_KVM_PREEMPTS, load<i32>(p + TH_PRE_KVM_PREEMPTS) + 1);
        else if (st == ST_GUEST) store<i32>(p + TH_PREEMPT_GUEST, load<i32>(p + TH_PREEMPT_GUEST) + 1);
        else if (st == ST_NONE) store<i32>(p + TH_PRE_EXIT_PREEMPTS, load<i32>(p + TH_PRE_EXIT_PREEMPTS) + 1);
        else store<i32>(p + TH_PREEMPT_HOST, load<i32>(p + TH_PREEMPT_HOST) + 1);
      } else if (pk) {
        store<i32>(p + TH_PRE_KVM_SLEEPS, load<i32>(p + TH_PRE_KVM_SLEEPS) + 1);
      } else {
        store<i32>(p + TH_SLEEPS, load<i32>(p + TH_SLEEPS) + 1);
      }
    }
  }
  if (next >= 0) {
    const ni = threadOf(next, -1);
    const n = threads + <usize>ni * TH_STRIDE;
    if (isVcpu(n)) {
      const pk = !kvmSeen(n);
      if (pk) store<i32>(n + TH_PRE_KVM_SWITCH_INS, load<i32>(n + TH_PRE_KVM_SWITCH_INS) + 1);
      else store<i32>(n + TH_SWITCH_IN, load<i32>(n + TH_SWITCH_IN) + 1);
      const po = load<i64>(n + TH_PREEMPT_OUT_TS);
      if (po != i64.MIN_VALUE) {
        store<i64>(n + TH_PREEMPT_OUT_TS, i64.MIN_VALUE);
        if (load<i32>(n + TH_STATE) == ST_HOST && ts >= po) store<i64>(n + TH_PEND_PREEMPT_NS, load<i64>(n + TH_PEND_PREEMPT_NS) + (ts - po));
      }
      const xo = load<i64>(n + TH_PRE_EXIT_PREEMPT_OUT_TS);
      if (xo != i64.MIN_VALUE && load<i32>(n + TH_STATE) == ST_NONE) {
        store<i64>(n + TH_PRE_EXIT_PREEMPT_OUT_TS, i64.MIN_VALUE);
        if (ts >= xo) store<i64>(n + TH_PRE_EXIT_PREEMPT_NS, load<i64>(n + TH_PRE_EXIT_PREEMPT_NS) + (ts - xo));
      }
      const r = load<i64>(n + TH_RUNNABLE_TS);
      if (trackAll && load<i64>(n + TH_FIRST_IN_TS) == i64.MIN_VALUE) {
        // a later slice's first switch-in of the thread: the run delay is from when it became runnable, which
        // may be in a slice before this one (the merge settles it: wasm/merge.ts)
        store<i64>(n + TH_FIRST_IN_TS, ts);
        store<i64>(n + TH_FIRST_IN_RUNNABLE, r);
        store<i32>(n + TH_FIRST_IN_PK, pk ? 1 : 0);
        store<i64>(n + TH_RUNNABLE_TS, i64.MIN_VALUE);
      } else if (r != i64.MIN_VALUE) {
        store<i64>(n + TH_RUNNABLE_TS, i64.MIN_VALUE);
        metric(ni, pk ? M_PK_RUN_DELAY : M_RUN_DELAY, ts - r);
      }
    }
  }
}

/** sched_wakeup / sched_waking of `pid`. */
function schedWakeup(ts: i64, pid: i32): void {
  if (pid < 0) return;
  const wi = threadOf(pid, -1);
  const w = threads + <usize>wi * TH_STRIDE;
  if (!isVcpu(w)) return;
  if (load<i64>(w + TH_RUNNABLE_TS) == i64.MIN_VALUE) store<i64>(w + TH_RUNNABLE_TS, ts);
  const st = load<i32>(w + TH_STATE);
  if (st == ST_HOST && load<i64>(w + TH_SCHED_WAKE_TS) == i64.MIN_VALUE) store<i64>(w + TH_SCHED_WAKE_TS, ts);
  else if (st == ST_NONE && load<i64>(w + TH_PRE_EXIT_SCHED_WAKE_TS) == i64.MIN_VALUE) store<i64>(w + TH_PRE_EXIT_SCHED_WAKE_TS, ts);
}

// ---- guest rip of handled exits (--by rip): (reason bin, rip) -> count, total handling time ----
// open addressing; records of RIP_STRIDE bytes: i32 bin index + 1 (0: empty), i32 count, i64 rip, i64 sum
const RIP_STRIDE: usize = 24;
const RIP_MAX_CAP: i32 = 1 << 21;
let ripOn: bool = false;
let ripCap: i32 = 0;
let ripTab: usize = 0;
let ripCount: i32 = 0;
let ripDropped: i64 = 0;
export function setRipTracking(on: bool): void { ripOn = on; }
export function ripTable(): usize { return ripTab; }
export function ripCapacity(): i32 { return ripCap; }
export function ripDroppedCount(): i64 { return ripDropped; }

function ripSlot(tab: usize, cap: i32, bin: i32, rip: i64): usize {
  let h = <u64>(rip ^ (<i64>bin << 40)) * 0x9E3779B97F4A7C15;
  let i = <i32>(h >> 40) & (cap - 1);
  while (true) {
    const e = tab + <usize>i * RIP_STRIDE;
    const b = load<i32>(e);
    if (b == 0 || (b == bin + 1 && load<i64>(e + 8) == rip)) return e;
    i = (i + 1) & (cap - 1);
  }
}

function ripAdd(bin: i32, rip: i64, d: i64): void {
  if (ripCap == 0) { ripCap = 4096; ripTab = zalloc(<usize>ripCap * RIP_STRIDE); }
  let e = ripSlot(ripTab, ripCap, bin, rip);
  if (load<i32>(e) == 0) {
    if ((ripCount + 1) * 2 > ripCap) {
      if (ripCap >= RIP_MAX_CAP) { ripDropped++; return; }
      const nc = ripCap * 2;
      const nt = zalloc(<usize>nc * RIP_STRIDE);
      for (let i = 0; i < ripCap; i++) {
        const o = ripTab + <usize>i * RIP_STRIDE;
        const ob = load<i32>(o);
        if (ob == 0) continue;
        memory.copy(ripSlot(nt, nc, ob - 1, load<i64>(o + 8)), o, RIP_STRIDE);
      }
      ripTab = nt; ripCap = nc;
      e = ripSlot(ripTab, ripCap, bin, rip);
    }
    store<i32>(e, bin + 1);
    store<i64>(e + 8, rip);
    ripCount++;
  }
  store<i32>(e + 4, load<i32>(e + 4) + 1);
  store<i64>(e + 16, load<i64>(e + 16) + d);
}

// ---- guest-physical pages of handled NPF exits (--by gpa): (reason bin, page) -> count, total handling time ----
// open addressing; records of GPA_STRIDE bytes: i32 bin index + 1 (0: empty), i32 count, i64 rip, i64 sum
const GPA_STRIDE: usize = 24;
const GPA_MAX_CAP: i32 = 1 << 21;
let gpaOn: bool = false;
let gpaCap: i32 = 0;
let gpaTab: usize = 0;
let gpaCount: i32 = 0;
let gpaDropped: i64 = 0;
export function setGpaTracking(on: bool): void { gpaOn = on; }
export function gpaTable(): usize { return gpaTab; }
export function gpaCapacity(): i32 { return gpaCap; }
export function gpaDroppedCount(): i64 { return gpaDropped; }

function gpaSlot(tab: usize, cap: i32, bin: i32, rip: i64): usize {
  let h = <u64>(rip ^ (<i64>bin << 40)) * 0x9E3779B97F4A7C15;
  let i = <i32>(h >> 40) & (cap - 1);
  while (true) {
    const e = tab + <usize>i * GPA_STRIDE;
    const b = load<i32>(e);
    if (b == 0 || (b == bin + 1 && load<i64>(e + 8) == rip)) return e;
    i = (i + 1) & (cap - 1);
  }
}

function gpaAdd(bin: i32, rip: i64, d: i64): void {
  if (gpaCap == 0) { gpaCap = 4096; gpaTab = zalloc(<usize>gpaCap * GPA_STRIDE); }
  let e = gpaSlot(gpaTab, gpaCap, bin, rip);
  if (load<i32>(e) == 0) {
    if ((gpaCount + 1) * 2 > gpaCap) {
      if (gpaCap >= GPA_MAX_CAP) { gpaDropped++; return; }
      const nc = gpaCap * 2;
      const nt = zalloc(<usize>nc * GPA_STRIDE);
      for (let i = 0; i < gpaCap; i++) {
        const o = gpaTab + <usize>i * GPA_STRIDE;
        const ob = load<i32>(o);
        if (ob == 0) continue;
        memory.copy(gpaSlot(nt, nc, ob - 1, load<i64>(o + 8)), o, GPA_STRIDE);
      }
      gpaTab = nt; gpaCap = nc;
      e = gpaSlot(gpaTab, gpaCap, bin, rip);
    }
    store<i32>(e, bin + 1);
    store<i64>(e + 8, rip);
    gpaCount++;
  }
  store<i32>(e + 4, load<i32>(e + 4) + 1);
  store<i64>(e + 16, load<i64>(e + 16) + d);
}

function newSegment(ts: i64, where: i64): void {
  const n = counterGet(C_SEGMENTS);
  if (n > 0) store<i64>(segTable + <usize>(n - 1 < SEG_MAX ? n - 1 : SEG_MAX - 1) * SEG_STRIDE + 8, segEnd);
  if (n < SEG_MAX) {
    const r = segTable + <usize>n * SEG_STRIDE;
    store<i64>(r, ts);
    store<i64>(r + 16, where);
  }
  counterSet(C_SEGMENTS, n + 1);
  segEnd = ts;
}

/** End of input: mark threads whose last exit never saw its entry. */
export function finishFile(): void {
  const ns = counterGet(C_SEGMENTS);
  if (ns > 0) store<i64>(segTable + <usize>(ns - 1 < SEG_MAX ? ns - 1 : SEG_MAX - 1) * SEG_STRIDE + 8, segEnd);
  for (let i = 0; i < threadCount; i++) {
    const t = threads + <usize>i * TH_STRIDE;
    if (load<i32>(t + TH_FILE) == fileId) {
      store<i64>(t + TH_TL_WIDTH, tlWidth);
      store<i64>(t + TH_TL_ORIGIN, tlOrigin);
    }
    if (load<i32>(t + TH_FILE) == fileId && load<i32>(t + TH_STATE) == ST_HOST) store<i32>(t + TH_PENDING_AT_END, 1);
  }
}

/** Name a thread (comm as a dictionary id): the latest name a reader learns wins (exec renames). */
export function nameThread(tid: i32, tgid: i32, comm: i32): void {
  const t = threads + <usize>threadOf(tid, tgid) * TH_STRIDE;
  store<i32>(t + TH_COMM, comm);
  if (tgid >= 0 && load<i32>(t + TH_TGID) < 0) store<i32>(t + TH_TGID, tgid);
}
