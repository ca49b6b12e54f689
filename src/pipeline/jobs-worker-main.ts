/**
 * The entry of a --jobs worker thread (jobs.ts starts it): reads its slice with jobs-worker.ts's
 * scanSlice (text), readTraceDatSlice (trace.dat) or perfdata-jobs.ts's readPerfSlice (perf.data) and posts the result; a worker started before its slice
 * was known gets ready (loads libzstd) and waits for it. Kept apart so that the main thread does not load
 * node:worker_threads at start-up (only when it starts workers).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { useModule } from '../wasm/core.js';
import type { SliceJob, TraceDatJob } from './jobs-worker.js';
import type { PerfSliceJob } from './perfdata-jobs.js';
import { phase } from '../core/phases.js';
import { SliceControl } from './slice-control.js';

type Job = SliceJob | TraceDatJob | PerfSliceJob;
const isPerf = (j: Job): j is PerfSliceJob => 'kind' in j && j.kind === 'perfdata';

/** Only the reader of this worker's kind is loaded (a text worker has no use for the perf.data reader). */
const reader = async (job: Job) => (isPerf(job) ? import('./perfdata-jobs.js') : import('./jobs-worker.js'));

const run = async (job: Job): Promise<void> => {
  const m = await reader(job);
  const r = 'readPerfSlice' in m ? m.readPerfSlice(job as PerfSliceJob, true)
    : 'kind' in job && job.kind === 'tracedat' ? m.readTraceDatSlice(job, true) : m.scanSlice(job as SliceJob, true);
  const x = await r;
  parentPort!.postMessage(x, [...(x.packed ? [x.packed.pairs.buffer as ArrayBuffer, x.packed.histAt.buffer as ArrayBuffer] : []), ...(x.snap ? [x.snap.buf] : [])]);
};

if (parentPort && workerData) {
  const data = workerData as Job & { waiting?: { warm?: string }; module?: WebAssembly.Module };
  if (data.module) useModule(data.module);
  if (data.waiting) {
    // started before its job was known (jobs.ts waitingWorker): get ready for a trace.dat meanwhile
    const ready = data.waiting.warm !== undefined
      ? Promise.all([import('./jobs-worker.js'), import('../formats/tracedat/reader.js'), import('../formats/decompress.js').then((d) => d.zstdWarmup(data.waiting!.warm, 'zstd'))])
      : Promise.resolve();
    parentPort.once('message', (job: SliceJob | TraceDatJob) => { void ready.then(() => run(job)); });
  } else if ('control' in data && data.control) {
    // a text or perf.data slice cut once this worker is ready (slice-control.ts): its reader is loaded first
    await reader(data);
    phase('worker: loaded');
    const slice = new SliceControl(data.control.sab).awaitSlice(data.control.k);
    if (!slice) parentPort.postMessage({ ok: true, cancelled: true });
    else if (isPerf(data)) void run({ ...data, from: slice.start, to: slice.end, control: undefined });
    else void run({ ...data, ...slice, control: undefined });
  } else void run(data);
}
