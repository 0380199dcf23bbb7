/**
 * Error classes thrown by wss-mp-server. Each has a stable string `code` (listed in the
 * package README's "Error codes" table); match on `code`, not on the message or the class,
 * since messages are for humans and may be reworded.
 */
export const ERROR_CODES = [
  'ERR_INVALID_OPTION',
  'ERR_CERTIFICATE',
  'ERR_DEV_CERT',
  'ERR_LISTEN',
  'ERR_SERVER_STATE',
  'ERR_ARGUMENT',
  'ERR_UNAVAILABLE',
] as const;

export type WssMpServerErrorCode = (typeof ERROR_CODES)[number];

export class WssMpServerError extends Error {
  readonly code: WssMpServerErrorCode;
  constructor(code: WssMpServerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    // Explicit name and prototype so `instanceof` and logs survive downlevelled builds.
    this.name = new.target.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** An option (or CLI flag) has a value outside what it accepts. */
export class OptionError extends WssMpServerError {
  /** Option name as given, e.g. `maxPayload` or `--max-payload`. */
  readonly option: string;
  /** What the option accepts, in words, e.g. `an integer 0–65535`. */
  readonly accepted: string;
  constructor(option: string, accepted: string, got: unknown) {
    super('ERR_INVALID_OPTION', `${option}: expected ${accepted}, got ${describe(got)}`);
    this.option = option;
    this.accepted = accepted;
  }
}

/** A certificate or key could not be read, parsed, or they do not belong together. */
export class CertificateError extends WssMpServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CERTIFICATE', message, options);
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined) return 'nothing';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
