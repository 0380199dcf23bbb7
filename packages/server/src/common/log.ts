/**
 * Structured logs: one JSON object per line. Every entry has `time` (ISO 8601), `level` and
 * `event`; connection-scoped entries add `id`, `ip` and `path` (never the query string, where
 * tokens travel). The README documents each event.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  time: string;
  level: LogLevel;
  event: string;
  msg?: string;
  [field: string]: unknown;
}

export type LogSink = (entry: LogEntry) => void;

/** Streams whose write failed (EPIPE: the log reader went away): logging to them stops. */
const broken = new WeakSet<NodeJS.WritableStream>();
const guarded = new WeakSet<NodeJS.WritableStream>();

/**
 * Writes each entry as one JSON line to `stream` (stdout by default).
 *
 * A pipe whose reader exits (`| head`, a crashed log shipper) fails the next write with EPIPE,
 * delivered later as an `error` event: without a listener Node turns it into an uncaught
 * exception and the whole server exits. So the stream gets one listener that marks it broken,
 * and entries for a broken stream are dropped: losing logs beats dropping every client.
 */
export function jsonLines(stream: NodeJS.WritableStream = process.stdout): LogSink {
  if (!guarded.has(stream)) {
    guarded.add(stream);
    stream.on('error', () => broken.add(stream));
  }
  return (entry) => {
    if (broken.has(stream) || (stream as { destroyed?: boolean }).destroyed) return;
    stream.write(JSON.stringify(entry, errorReplacer) + '\n');
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as NodeJS.ErrnoException).code;
    return code ? `${code}: ${value.message}` : value.message;
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** Per-connection events, silenced by `quiet`. */
export const CONNECTION_EVENTS: ReadonlySet<string> = new Set([
  'connection',
  'close',
  'reject',
  'tls-error',
  'plain-http',
]);

export class Logger {
  /**
   * Sees every event before the sink and `quiet` (the metrics count handshakes, refusals and
   * closes from the lines that already describe them). Must not throw.
   */
  observe: ((event: string, fields: Record<string, unknown> | undefined) => void) | undefined = undefined;

  constructor(
    private readonly sink: LogSink | false,
    private readonly quiet: boolean,
  ) {}

  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void {
    if (this.observe !== undefined) this.observe(event, fields);
    if (!this.sink) return;
    if (this.quiet && CONNECTION_EVENTS.has(event)) return;
    const entry: LogEntry = { time: new Date().toISOString(), level, event, ...fields };
    try {
      this.sink(entry);
    } catch {
      /* a broken log sink must not take the server down */
    }
  }

  info(event: string, fields?: Record<string, unknown>): void {
    this.log('info', event, fields);
  }
  warn(event: string, fields?: Record<string, unknown>): void {
    this.log('warn', event, fields);
  }
  error(event: string, fields?: Record<string, unknown>): void {
    this.log('error', event, fields);
  }
}

/** Path part of a request URL, without query string or fragment. */
export function pathOnly(url: string | undefined): string {
  if (!url) return '/';
  const q = url.search(/[?#]/);
  return q === -1 ? url : url.slice(0, q);
}
