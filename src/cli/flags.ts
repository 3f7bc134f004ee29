import { ConfigError } from '../errors';

/**
 * Flag values from the command line, checked: each reader names the flag, what it takes and what was given, and
 * throws a ConfigError (exit 2, like a bad manifest). Every command reads its numeric and enumerated flags here.
 */

const fail = (flag: string, expected: string, got: string): never => {
  throw new ConfigError([`${flag} expects ${expected}, got '${got}'`]);
};

export interface Range {
  min?: number;
  max?: number;
}

function rangeText(kind: string, { min, max }: Range): string {
  if (min !== undefined && max !== undefined) return `${kind} from ${min} to ${max}`;
  if (min !== undefined) return `${kind} >= ${min}`;
  if (max !== undefined) return `${kind} <= ${max}`;
  return kind;
}

const inRange = (x: number, { min, max }: Range): boolean =>
  (min === undefined || x >= min) && (max === undefined || x <= max);

/** A decimal integer: "8", not "8.5", "0x8", "1e3" or "". */
function parseInteger(s: string): number {
  return /^[+-]?\d+$/.test(s.trim()) ? Number(s) : NaN;
}

/** A finite decimal number. */
function parseNumber(s: string): number {
  return s.trim() === '' ? NaN : Number(s);
}

export function intFlag(flag: string, v: string, range: Range = {}): number {
  const x = parseInteger(v);
  if (!Number.isSafeInteger(x) || !inRange(x, range)) fail(flag, rangeText('an integer', range), v);
  return x;
}

export function numberFlag(flag: string, v: string, range: Range & { above?: number } = {}): number {
  const x = parseNumber(v);
  const aboveOk = range.above === undefined || x > range.above;
  if (!Number.isFinite(x) || !inRange(x, range) || !aboveOk) {
    const what =
      range.above !== undefined
        ? `a number > ${range.above}${range.max !== undefined ? ` and <= ${range.max}` : ''}`
        : rangeText('a number', range);
    fail(flag, what, v);
  }
  return x;
}

const items = (v: string): string[] => v.split(',').map((s) => s.trim());

/** Comma-separated integers, at least one. */
export function intListFlag(flag: string, v: string, range: Range = {}): number[] {
  const xs = items(v).map(parseInteger);
  if (xs.some((x) => !Number.isSafeInteger(x) || !inRange(x, range)))
    fail(flag, `${rangeText('integers', range)} separated by commas`, v);
  return xs;
}

/** Comma-separated numbers, at least one. */
export function numberListFlag(flag: string, v: string, range: Range = {}): number[] {
  const xs = items(v).map(parseNumber);
  if (xs.some((x) => !Number.isFinite(x) || !inRange(x, range)))
    fail(flag, `${rangeText('numbers', range)} separated by commas`, v);
  return xs;
}

export function enumFlag<T extends string>(flag: string, v: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(v)) fail(flag, `one of ${choices.join(', ')}`, v);
  return v as T;
}

/** Comma-separated choices, each known, none twice. */
export function enumListFlag<T extends string>(flag: string, v: string, choices: readonly T[]): T[] {
  const xs = items(v);
  const known = choices as readonly string[];
  const bad = xs.find((x) => !known.includes(x));
  if (bad !== undefined) fail(flag, `a comma-separated list of ${choices.join(', ')} (unknown: '${bad}')`, v);
  if (new Set(xs).size !== xs.length) fail(flag, `each of ${choices.join(', ')} at most once`, v);
  return xs as T[];
}

/** A usage problem that is not one flag's value (two flags that exclude each other, a missing choice). */
export function usageError(message: string): ConfigError {
  return new ConfigError([message]);
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const logLevelFlag = (v: string): string => enumFlag('--log-level', v, LOG_LEVELS);

/** Listen ports: 0 asks for any free port. */
export const portFlag = (flag: string, v: string): number => intFlag(flag, v, { min: 0, max: 65535 });
