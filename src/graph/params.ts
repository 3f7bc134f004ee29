import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ParamSchema } from '../components/api';
import { isObj, type Problems } from './check';
import type { ParamValue } from './spec';

/**
 * Component parameters: parsed from the manifest, then checked against the component's parameter schema. Built-ins
 * are checked during validation (their schemas are plain data); a user module's node process checks its own at
 * start-up (checkModuleParams), so validating a manifest never runs user code.
 */

/** Accepts a plain mapping, or Seldon's list form [{name, value, type: INT|FLOAT|DOUBLE|STRING|BOOL}]. */
export function parseParams(raw: unknown, at: string, p: Problems): Record<string, ParamValue> {
  if (raw === undefined || raw === null) return {};
  const out: Record<string, ParamValue> = {};
  if (Array.isArray(raw)) {
    raw.forEach((e, i) => {
      if (!isObj(e) || typeof e.name !== 'string' || e.value === undefined) {
        p.add(`${at}.parameters[${i}]`, 'Seldon-style parameters need name and value');
        return;
      }
      out[e.name] = typeof e.value === 'object' ? JSON.stringify(e.value) : (e.value as ParamValue);
    });
    return out;
  }
  if (!isObj(raw)) {
    p.add(`${at}.parameters`, 'must be a mapping (or a Seldon-style list of {name, value, type})');
    return out;
  }
  for (const [k, v] of Object.entries(raw)) {
    if (Array.isArray(v)) out[k] = v.join(',');
    else if (typeof v === 'object' && v !== null)
      p.add(`${at}.parameters.${k}`, 'must be a scalar or a list of scalars');
    else if (v !== null) out[k] = v as ParamValue;
  }
  return out;
}

export function applyParamSchema(
  schema: Record<string, ParamSchema>,
  raw: Record<string, ParamValue>,
  at: string,
  p: Problems,
  baseDir: string,
  /** Whether `path` parameters must name an existing file (not where the files live elsewhere: an executor pod). */
  checkFiles = false,
): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const k of Object.keys(raw)) {
    if (!Object.hasOwn(schema, k)) {
      const known = Object.keys(schema);
      p.add(at, `unknown parameter '${k}' (known: ${known.length ? known.join(', ') : 'none'})`);
    }
  }
  for (const [k, s] of Object.entries(schema)) {
    const v = raw[k] ?? s.default;
    if (v === undefined) {
      if (s.required) p.add(at, `missing required parameter '${k}' (${s.type}: ${s.description})`);
      continue;
    }
    const where = `${at}.parameters.${k}`;
    switch (s.type) {
      case 'number':
      case 'integer': {
        const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
        if (!Number.isFinite(n) || (s.type === 'integer' && !Number.isInteger(n))) {
          p.add(where, `must be ${s.type === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`);
        } else out[k] = n;
        break;
      }
      case 'boolean': {
        if (typeof v === 'boolean') out[k] = v;
        else if (v === 'true' || v === 'false') out[k] = v === 'true';
        else p.add(where, `must be true or false, got ${JSON.stringify(v)}`);
        break;
      }
      case 'path': {
        const abs = path.resolve(baseDir, expandEnv(String(v)));
        if (checkFiles && !existsSync(abs)) p.add(where, `file ${abs} does not exist`);
        out[k] = abs;
        break;
      }
      default:
        out[k] = String(v);
    }
  }
  return out;
}

/** `${VAR}` and `${VAR:-default}` in path parameters, so one manifest works with data in different places. */
function expandEnv(s: string): string {
  return s.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
    (_m, name: string, dflt: string | undefined) => process.env[name] ?? dflt ?? '',
  );
}
