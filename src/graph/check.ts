import type { Field, ObjectField } from './schema';

/**
 * Checks a YAML value against a schema field (src/graph/schema.ts), collecting every problem with its path. The
 * messages are made here from the schema's own ranges, enums and patterns, so the validator and the CRD cannot drift.
 */

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Kubernetes resource quantity syntax (a subset: decimal numbers with a binary or decimal suffix). */
export const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

export class Problems {
  readonly list: string[] = [];
  add(where: string, what: string): void {
    this.list.push(`${where}: ${what}`);
  }
  keys(where: string, o: Obj, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.add(where, `unknown field '${k}' (allowed: ${allowed.join(', ')})`);
    }
  }
}

/** Where a problem is reported: at the field's own path, or (label set) at its node as "<label> must ...". */
export interface At {
  where: string;
  label?: string;
}

const got = (v: unknown): string => `got ${JSON.stringify(v)}`;
const report = (p: Problems, at: At, what: string): undefined => {
  if (at.label) p.add(at.where, `${at.label} ${what}`);
  else p.add(at.where, what);
  return undefined;
};

/** The problem with a leaf value, if any (no defaults: `v` is present). */
export function leafProblem(f: Field, v: unknown): string | undefined {
  switch (f.type) {
    case 'integer': {
      const range = f.maximum === undefined ? `>= ${f.minimum}` : `from ${f.minimum} to ${f.maximum}`;
      const ok =
        typeof v === 'number' && Number.isInteger(v) && v >= f.minimum && (f.maximum === undefined || v <= f.maximum);
      return ok ? undefined : `must be an integer ${range}, ${got(v)}`;
    }
    case 'number':
      return typeof v === 'number' && v >= f.minimum && v <= f.maximum
        ? undefined
        : `must be a number from ${f.minimum} to ${f.maximum}, ${got(v)}`;
    case 'boolean':
      return typeof v === 'boolean' ? undefined : `must be true or false, ${got(v)}`;
    case 'quantity':
      return (typeof v === 'number' && Number.isInteger(v) && v >= 0) || (typeof v === 'string' && QUANTITY.test(v))
        ? undefined
        : `must be a Kubernetes quantity (e.g. 500m, 2, 1.5Gi), ${got(v)}`;
    case 'scalar':
      return typeof v === 'object' && v !== null ? 'must be a scalar' : undefined;
    case 'string': {
      if (typeof v !== 'string')
        return `must be ${f.pattern ? f.pattern.means : f.enum ? `one of ${f.enum.join(', ')}` : 'a string'}, ${got(v)}`;
      if (f.enum && !f.enum.includes(v)) return `must be one of ${f.enum.join(', ')}, ${got(v)}`;
      const tooLong = f.maxLength !== undefined && v.length > f.maxLength;
      if (f.pattern && (tooLong || !new RegExp(f.pattern.regex).test(v)))
        return `must be ${f.pattern.means}, ${got(v)}`;
      if (tooLong) return `must be at most ${f.maxLength} characters, ${got(v)}`;
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * The checked value with schema defaults applied below it, or undefined when absent or wrong (problems recorded).
 * Nodes (type 'node') are the caller's business: the manifest validator walks them itself.
 */
export function checkField(f: Field, raw: unknown, at: At, p: Problems, required = false): unknown {
  if (raw === undefined && !required) return absent(f);
  switch (f.type) {
    case 'object':
      return checkObject(f, raw, at, p);
    case 'map': {
      if (!isObj(raw)) return report(p, at, `must be a mapping of ${f.shape}`);
      const out: Obj = {};
      for (const [k, v] of Object.entries(raw)) {
        if (!new RegExp(f.keys.regex).test(k)) p.add(at.where, `bad ${f.keys.noun} name '${k}'`);
        else {
          const value = checkField(f.values, v, { where: `${at.where}.${k}` }, p);
          // eslint-disable-next-line @typescript-eslint/no-base-to-string -- checkField passed it as a scalar
          if (value !== undefined) out[k] = f.values.type === 'scalar' ? String(value) : value;
        }
      }
      return out;
    }
    case 'list': {
      if (!Array.isArray(raw)) return report(p, at, 'must be a list');
      return raw.map((v, i) => checkField(f.items, v, { where: `${at.where}[${i}]` }, p));
    }
    case 'opaque': {
      if (!f.properties) return raw;
      if (!isObj(raw)) return report(p, at, 'must be a mapping');
      for (const k of f.required ?? []) if (raw[k] === undefined) p.add(at.where, `missing required field '${k}'`);
      for (const [k, sub] of Object.entries(f.properties)) checkField(sub, raw[k], { where: `${at.where}.${k}` }, p);
      return raw;
    }
    case 'node':
      return raw;
    default: {
      const bad = leafProblem(f, raw);
      if (bad) return report(p, at, bad);
      return f.type === 'quantity' ? String(raw) : raw;
    }
  }
}

/** An object's known fields checked, unknown ones reported, defaults filled (nested objects only when given). */
export function checkObject(
  f: ObjectField,
  raw: unknown,
  at: At,
  p: Problems,
  skip: readonly string[] = [],
): Obj | undefined {
  const fields = Object.keys(f.properties);
  if (!isObj(raw)) return report(p, at, `must be a mapping with ${fields.join(', ')}`);
  p.keys(at.where, raw, fields);
  for (const k of f.required ?? [])
    if (raw[k] === undefined && !skip.includes(k)) p.add(at.where, `missing required field '${k}'`);
  const out: Obj = {};
  for (const [k, sub] of Object.entries(f.properties)) {
    if (skip.includes(k)) continue;
    const v = checkField(sub, raw[k], { where: `${at.where}.${k}` }, p);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** The defaults of an object's fields (filled objects and maps included), e.g. the restart policy when none is given. */
export function defaultsOf(f: ObjectField): Obj {
  const out: Obj = {};
  for (const [k, sub] of Object.entries(f.properties)) {
    const v = absent(sub);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** What an absent field becomes: its default, its defaults (a filled object), empty (a filled map), or nothing. */
function absent(f: Field): unknown {
  if ('default' in f) return f.default;
  if (f.type === 'object' && f.filled) return defaultsOf(f);
  if (f.type === 'map' && f.filled) return {};
  return undefined;
}
