/** The lever models: one place for `report --sections levers`, `advise` and `--what-if`. */
export { termsOf, type Terms } from './terms.js';
export { forecastCpuPm, observeCpuPm, boxOf, type CpuPmForecast, type CpuPmParams, type Box } from './cpupm.js';
export { fitCpuPm, fitDelta, looCpuPm, heldOutCpuPm, looDelta, heldOutDelta, dedicated, sameLoad, loadRatio, SAME_LOAD, CONTENDED_PREEMPT_PER_S, CALIBRATED_ON, MARGIN, WIDEN, DELTA_FLOOR_PP, type LooRow } from './calibration.js';
export { buildLevers, cpuPmForecast, hostFacts, type Lever, type LeversSection, type Combination, type Range } from './levers.js';
export { PAIR_LIST, type PairSpec } from './pair-list.js';
export { checkForecast, FORECAST_LEVERS, type ForecastCheck, type CheckRow } from './check.js';
export { PhaseCollector, attachPhases, phasesOf, PHASE_BEGIN, PHASE_END, type Phase, type PhaseSection } from './phases.js';
export { reportOfVm } from './per-vm.js';
export type { VmLevers, BuildOptions } from './levers.js';
