// Public doctor API, re-exported from the package root.
export { runDoctor } from './run';
export { renderReport, type RenderOptions } from './render';
export { DOCTOR_DEFAULTS, CHECK_IDS } from './types';
export type { CheckId, CheckStatus, DoctorCheck, DoctorOptions, DoctorReport } from './types';
