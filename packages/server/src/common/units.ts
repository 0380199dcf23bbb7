/**
 * Durations and sizes as people write them, one grammar for every command and option that
 * takes text: a number and a unit, always. A bare number is refused (except 0), because the
 * unit it would silently get differs from tool to tool: `25` read as milliseconds pings 40
 * times a second. The error shows the unit form (`25s`).
 */
import { OptionError } from './errors';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const BARE = /^\d+(?:\.\d+)?$/;

export const DURATION_FORMS = 'a duration with a unit: 500ms, 25s, 5m or 1h';
export const SIZE_FORMS = 'a size with a unit: 512B, 64KiB, 1MiB or 1GiB';

/** Milliseconds from `500ms`, `25s`, `1.5s`, `5m`, `1h`; `0` alone is allowed (it is 0 in every unit). */
export function parseDuration(option: string, v: string): number {
  const s = v.trim();
  if (s === '0') return 0;
  const m = DURATION.exec(s);
  if (m) return Math.round(Number(m[1]) * DURATION_MS[m[2]!]!);
  if (BARE.test(s)) throw new OptionError(option, `${DURATION_FORMS} (a bare number has no unit: write ${s}s for seconds or ${s}ms)`, v);
  throw new OptionError(option, DURATION_FORMS, v);
}

/** `25000` → `25s`, `300000` → `5m`: the largest unit that keeps the value whole. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const [unit, n] of [['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) if (ms % n === 0) return `${ms / n}${unit}`;
  return `${ms}ms`;
}

const SIZE = /^(\d+(?:\.\d+)?)(B|KiB|MiB|GiB)$/i;
const SIZE_BYTES: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/**
 * Bytes from `512B`, `64KiB`, `1MiB`, `1GiB` (binary units, any case). A bare number is
 * refused like a bare duration: `--max-payload 64` meant as 64 KiB would close every message
 * over 64 bytes. `KB`/`k` are refused too: they mean 1000 to some readers and 1024 to others.
 */
export function parseSize(option: string, v: string): number {
  const s = v.trim();
  const m = SIZE.exec(s);
  if (m) return Math.round(Number(m[1]) * SIZE_BYTES[m[2]!.toLowerCase()]!);
  if (BARE.test(s)) {
    const n = Number(s);
    const alt = Number.isInteger(n) && n % 1024 === 0 && n > 0 ? ` or ${formatSize(n)}` : '';
    throw new OptionError(option, `${SIZE_FORMS} (a bare number has no unit: write ${s}B for bytes${alt})`, v);
  }
  throw new OptionError(option, SIZE_FORMS, v);
}

/** `65536` → `64KiB`, `1048576` → `1MiB`; else bytes with `B`. */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return `${bytes}B`;
}

/** A non-negative integer, e.g. a count or a port. */
export function parseCount(option: string, v: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) > max) {
    throw new OptionError(option, max === 65535 ? 'an integer 0–65535' : 'an integer, 0 or more', v);
  }
  return Number(v);
}
