// kvmtax WebAssembly core: the exports TypeScript calls (src/wasm/core.ts owns the other side).
//
//   TypeScript                         | wasm linear memory
//   fs.readSync(fd, inputView) --------> input arena  --scanText()--> tokenizer (text.ts) --+
//   binary readers: EventSink.push ----> batch columns --consumeBatch()--------------------+--> onEvent()
//                                                                                         (analysis.ts)
//   summary: reads thread, bin, histogram, top-N, skip and dictionary tables directly from memory.
//
// Exports take and return integers and pointers only; memory may grow during any call.
import { zalloc } from "./mem";
import { nestedRowCount } from "./nested";
import { dictInit, intern as dictIntern, dictEntries, dictCount, dictBytes, overflowed } from "./dict";
import {
  analysisInit, onEvent, setFile, finishFile, segTable, setRipTracking, ripTable, ripCapacity, ripDroppedCount, setGpaTracking, gpaTable, gpaCapacity, gpaDroppedCount, counters, threadCount, binCount, topCount, threadsPtr,
  binsPtr, histDirPtr, topPtr, nameThread as nameTh, setGpaReasons, rowsInit, rowsPtr, rowCount, rowsReset, timelinePtr, rowsRoom, setTimelineOrigin, timelineOrigin, setTrackAll, trackAll,
} from "./analysis";
export { preWakesPtr, preWakesCount, histPack, timelineBytes } from "./analysis";
import { pdSetScratch } from "./perfdata";
export { pdConfig, pdBegin, pdWalk, pdQueue, pdFinish, pdSamples, pdGuestSamples, pdLost, pdAttrCount, pdPidOf, pdSkipsPtr, pdSkipsClear, pdStopped, pdSkipCount, pdSetAttrName, pdAttrPeriod, pdWalkAt, pdReadBuffers, pdSlice, pdSliceFailed, pdSliceTo } from "./perfdata";
export { tdConfig, tdBegin, tdStream, tdFeedPtr, tdFed, tdEnd, tdWait, tdNeed, tdSetFormat, tdErrOff, tdErrVal, tdEvents, tdLost, tdRun, tdWindow, tdBackwards, tdBackOff, tdStreamInfo } from "./tracedat";
export { tdSetTgid, tdClearTgids, tdTgidOf, tdSetSaved, tdNamed, tdSkipsPtr, tdSkipCount, tdSkipsClear, tdLearnedCount, tdLearnedHow, tdSpec, tdLater, tdFirstsPtr, tdFirstsCount, tdLostLogPtr, tdLostLogCount, tdSeedLearned, tdSeedComm, tdLogPtr, tdLogCount, tdDump, tdDumpPtr } from "./tdrecord";
export { textFastPaths } from "./text";
import { textRips, textGpas, textDetail, textInit, beginText, scanText, skips, errLine, errCol, errKind, skipExternal, textLines } from "./text";

let input: usize = 0;
let inputCap: i32 = 0;
let scratch: usize = 0;
const SCRATCH = 4096;

// batch columns for binary readers
let batchCap: i32 = 0;
let bKind: usize = 0;
let bTs: usize = 0;
let bTid: usize = 0;
let bTgid: usize = 0;
let bCpu: usize = 0;
let bVcpu: usize = 0;
let bA: usize = 0;
let bB: usize = 0;
let bC: usize = 0;
let bName: usize = 0;
let bWhere: usize = 0;

/** Set up all tables. `arenaBytes`: input chunk size; `batch`: events per batch; `topN`: slowest exits kept. */
export function init(arenaBytes: i32, batch: i32, topN: i32): void {
  inputCap = arenaBytes;
  input = zalloc(<usize>arenaBytes + 64);
  scratch = zalloc(SCRATCH);
  pdSetScratch(scratch);
  batchCap = batch;
  bKind = zalloc(<usize>batch * 4);
  bTs = zalloc(<usize>batch * 8);
  bTid = zalloc(<usize>batch * 4);
  bTgid = zalloc(<usize>batch * 4);
  bCpu = zalloc(<usize>batch * 4);
  bVcpu = zalloc(<usize>batch * 4);
  bA = zalloc(<usize>batch * 8);
  bB = zalloc(<usize>batch * 8);
  bC = zalloc(<usize>batch * 4);
  bName = zalloc(<usize>batch * 4);
  bWhere = zalloc(<usize>batch * 8);
  dictInit();
  textInit();
  analysisInit(topN);
}

export function inputPtr(): usize { return input; }
export function inputSize(): i32 { return inputCap; }
export function scratchPtr(): usize { return scratch; }
export function scratchSize(): i32 { return SCRATCH; }
export function batchPtrs(): usize {
  // the eleven column pointers, for TypeScript to build its views once
  const p = scratch;
  store<u32>(p, <u32>bKind); store<u32>(p + 4, <u32>bTs); store<u32>(p + 8, <u32>bTid); store<u32>(p + 12, <u32>bTgid);
  store<u32>(p + 16, <u32>bCpu); store<u32>(p + 20, <u32>bVcpu); store<u32>(p + 24, <u32>bA); store<u32>(p + 28, <u32>bB);
  store<u32>(p + 32, <u32>bC); store<u32>(p + 36, <u32>bName); store<u32>(p + 40, <u32>bWhere);
  return p;
}
export function batchCapacity(): i32 { return batchCap; }

/** Start input file number `id` (format FMT_*; strict: any skipped line stops the scan). */
export function beginFile(id: i32, format: i32, strict: bool): void {
  setFile(id);
  beginText(format, strict);
}
export function endFile(): void { finishFile(); }

/** Tokenize [input, input+len): returns bytes consumed (the unfinished line stays) or an ERR_* code. */
export function scan(len: i32, last: bool): i32 {
  return scanText(input, len, last, len >= inputCap);
}
/**
 * Tokenize [base, base+len) of core memory (a text read buffer, textReadBuffers); `full`: the window is a
 * whole arena's worth, so a line with no newline in it is over-long.
 */
export function scanAt(base: usize, len: i32, last: bool, full: bool): i32 {
  return scanText(base, len, last, full);
}
/**
 * Text read buffers: two of (lead, data) of `bytes` each. TypeScript reads the next chunk into one data
 * part while the core scans the other; the unfinished line at a chunk's end is copied into the lead
 * before the next data part (a line shorter than an arena always fits).
 */
let txBufs: usize = 0;
let txBytes: i32 = 0;
export function textReadBuffers(bytes: i32): usize {
  if (bytes > txBytes) { txBytes = bytes; txBufs = zalloc(<usize>bytes * 4 + 64); }
  return txBufs;
}

/** Hand events [from, n) of the batch columns to the analysis; stops early (returns where) when the row buffer is full. */
export function consumeBatch(from: i32, n: i32): i32 {
  for (let i = from; i < n; i++) {
    if (!rowsRoom()) return i;
    const o4 = <usize>i << 2;
    const o8 = <usize>i << 3;
    onEvent(load<i32>(bKind + o4), load<i64>(bTs + o8), load<i32>(bTid + o4), load<i32>(bTgid + o4),
      load<i32>(bCpu + o4), load<i32>(bVcpu + o4), load<i64>(bA + o8), load<i64>(bB + o8),
      load<i32>(bC + o4), load<i32>(bName + o4), load<i64>(bWhere + o8));
  }
  return n;
}

/** Intern the `len` bytes at the scratch area. */
export function intern(len: i32): i32 { return dictIntern(scratch, len); }
/** Name a thread: comm is a dictionary id. */
export function nameThread(tid: i32, tgid: i32, comm: i32): void { nameTh(tid, tgid, comm); }
/** A skip found by a TypeScript reader; its excerpt is the `len` bytes at the scratch area. */
export function skip(kind: i32, where: i64, len: i32): void { skipExternal(kind, where, scratch, len); }

// ---- results ----
export function countersPtr(): usize { return counters; }
export function segmentsPtr(): usize { return segTable; }
export { nestedOn, nestedRows } from "./nested";
export function nestedRowsCount(): i32 { return nestedRowCount; }
export function ripOn(on: bool): void { setRipTracking(on); textRips(on); }
export function ripBase(): usize { return ripTable(); }
export function ripCap(): i32 { return ripCapacity(); }
export function ripDropped(): i64 { return ripDroppedCount(); }
export function gpaOn(on: bool): void { setGpaTracking(on); textGpas(on); }
/** --by gpa: the dictionary ids of "EPT_VIOLATION" (its GPA comes from kvm_page_fault) and "npf" (from info2, binary input). */
export function gpaReasons(ept: i32, npf: i32): void { setGpaReasons(ept, npf); }
export function gpaBase(): usize { return gpaTable(); }
export function gpaCap(): i32 { return gpaCapacity(); }
export function gpaDropped(): i64 { return gpaDroppedCount(); }
export function threadsBase(): usize { return threadsPtr(); }
export function threadsCount(): i32 { return threadCount; }
export { kvmThreadCount } from "./analysis";
export function binsBase(): usize { return binsPtr(); }
export function binsCount(): i32 { return binCount; }
/**
 * The directory of histogram h: one u32 per page of 64 u32 counts, the page's address or 0 when none of
 * its buckets was hit (directories never move; the logged counts are applied first).
 */
export function histDir(h: i32): usize { return histDirPtr(h); }
// --jobs: the slices' histograms merged into this core's (assembly/analysis.ts)
export { histNew, histAddTo, histAddPairs, histAddPairsList, histAddAll, histClear, histFlush, histScratch, histSum, histRanks } from "./analysis";
export function topBase(): usize { return topPtr(); }
export function topSize(): i32 { return topCount; }
export function skipsBase(): usize { return skips; }
export function dictBase(): usize { return dictEntries(); }
export function dictSize(): i32 { return dictCount(); }
export function dictBytesBase(): usize { return dictBytes(); }
export function dictOverflowed(): i64 { return overflowed; }
export function errorLine(): i64 { return errLine; }
export function errorCol(): i32 { return errCol; }
export function errorKind(): i32 { return errKind; }
export function linesRead(): i64 { return textLines(); }

/** Turn on row output: up to `cap` rows (ROW_STRIDE bytes each) between two drains. */
export function setRows(cap: i32): void { rowsInit(cap); textDetail(cap > 0); }
export function rowsBase(): usize { return rowsPtr(); }
export function rowsCount(): i32 { return rowCount; }
export function rowsClear(): void { rowsReset(); }
export function timelineBase(): usize { return timelinePtr(); }
export function setOrigin(ts: i64): void { setTimelineOrigin(ts); }
export function origin(): i64 { return timelineOrigin(); }
export function trackAllThreads(on: bool): void { setTrackAll(on); }
export function trackingAllThreads(): bool { return trackAll; }
