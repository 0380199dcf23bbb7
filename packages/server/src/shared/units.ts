/** Parsing of human-friendly CLI values: durations (`25s`, `200ms`, `2m`) and sizes (`64KiB`). */
import { OptionError } from './errors';

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Milliseconds from `250`, `250ms`, `25s`, `2m`, `1h`. A bare number is milliseconds. */
export function parseDuration(option: string, v: string): number {
  const m = DURATION.exec(v.trim());
  if (!m) throw new OptionError(option, 'a duration such as 25s, 500ms or 2m (bare numbers are ms)', v);
  return Math.round(Number(m[1]) * DURATION_MS[(m[2] ?? 'ms').toLowerCase()]!);
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;

/** Bytes from `65536`, `64k`, `64KiB`, `1MiB` (k/M/G are powers of 1024). */
export function parseSize(option: string, v: string): number {
  const m = SIZE.exec(v.trim());
  if (!m) throw new OptionError(option, 'a size such as 65536, 64KiB or 1MiB', v);
  const unit = (m[2] ?? 'b').toLowerCase()[0]!;
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * mult);
}

/** A non-negative integer, e.g. a count or a port. */
export function parseCount(option: string, v: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) > max) {
    throw new OptionError(option, max === 65535 ? 'an integer 0–65535' : 'an integer, 0 or more', v);
  }
  return Number(v);
}
