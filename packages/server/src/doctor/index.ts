// Public doctor API: the `wss-mp-server/doctor` entry point.
export { runDoctor } from './run';
export { renderReport, type RenderOptions } from './render';
export { DOCTOR_DEFAULTS, CHECK_IDS } from './types';
export type { CheckId, CheckStatus, DoctorCheck, DoctorOptions, DoctorReport } from './types';
export { WssMpServerError, OptionError, ERROR_CODES, type WssMpServerErrorCode } from '../common/errors';
