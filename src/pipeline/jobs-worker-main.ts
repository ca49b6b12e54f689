/**
 * The entry of a --jobs worker thread (jobs.ts starts it): reads its slice with jobs-worker.ts's
 * scanSlice (text), readTraceDatSlice (trace.dat) or perfdata-jobs.ts's readPerfSlice (perf.data) and posts the result; a worker started before its slice
 * was known gets ready (loads libzstd) and waits for it. Kept apart so that the main thread does not load
 * node:worker_threads at start-up (only when it starts workers).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { useModule } from '../wasm/core.js';
import { readTraceDatSlice, scanSlice, type SliceJob, type TraceDatJob } from './jobs-worker.js';
import { readPerfSlice, type PerfSliceJob } from './perfdata-jobs.js';
import { phase } from '../core/phases.js';
import { SliceControl } from './slice-control.js';

const run = (job: SliceJob | TraceDatJob | PerfSliceJob): void => {
  const r = 'kind' in job && job.kind === 'tracedat' ? readTraceDatSlice(job, true)
    : 'kind' in job && job.kind === 'perfdata' ? readPerfSlice(job, true) : scanSlice(job as SliceJob, true);
  void r.then((x) => parentPort!.postMessage(x, x.packed ? [x.packed.pairs.buffer as ArrayBuffer, x.packed.histAt.buffer as ArrayBuffer] : []));
};

phase('worker: loaded');
if (parentPort && workerData) {
  const data = workerData as (SliceJob | TraceDatJob | PerfSliceJob) & { waiting?: { warm?: string }; module?: WebAssembly.Module };
  if (data.module) useModule(data.module);
  if (data.waiting) {
    // started before its job was known (jobs.ts waitingWorker): get ready for a trace.dat meanwhile
    const ready = data.waiting.warm !== undefined
      ? Promise.all([import('../formats/tracedat/reader.js'), import('../formats/decompress.js').then((d) => d.zstdWarmup(data.waiting!.warm, 'zstd'))])
      : Promise.resolve();
    parentPort.once('message', (job: SliceJob | TraceDatJob) => { void ready.then(() => run(job)); });
  } else if ('control' in data && data.control) {
    // a text or perf.data slice cut once this worker is ready (slice-control.ts)
    const slice = new SliceControl(data.control.sab).awaitSlice(data.control.k);
    if (!slice) parentPort.postMessage({ ok: true, cancelled: true });
    else if ('kind' in data && data.kind === 'perfdata') run({ ...data, from: slice.start, to: slice.end, control: undefined });
    else run({ ...data, ...slice, control: undefined });
  } else run(data);
}
