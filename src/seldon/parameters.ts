import type { ParamValue } from '../components/types';
import { isObj, type Problems } from '../graph/check';
import { PARAMETER_TYPES, type ParameterType, type SeldonParameter } from './types';

/**
 * Seldon's parameter list `[{name, type, value}]`: checked per type (INT, FLOAT, DOUBLE, STRING, BOOL, JSON) the way
 * Seldon's Python wrapper will parse it, so a bad value fails at validation and not in the model's pod. Values stay
 * strings, as PREDICTIVE_UNIT_PARAMETERS carries them; `typedValue` gives an infergraph built-in its typed value.
 */

const INT = /^[+-]?\d+$/;

function valueProblem(type: ParameterType, v: string): string | undefined {
  switch (type) {
    case 'INT':
      return INT.test(v.trim()) ? undefined : 'an integer';
    case 'FLOAT':
    case 'DOUBLE':
      return v.trim() !== '' && Number.isFinite(Number(v)) ? undefined : 'a number';
    case 'BOOL':
      return /^(true|false)$/i.test(v.trim()) ? undefined : 'true or false';
    case 'JSON':
      try {
        JSON.parse(v);
        return undefined;
      } catch {
        return 'valid JSON';
      }
    default:
      return undefined;
  }
}

export function parseSeldonParameters(raw: unknown, where: string, p: Problems): SeldonParameter[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    p.add(`${where}.parameters`, "must be Seldon's list of {name, type, value}");
    return [];
  }
  const out: SeldonParameter[] = [];
  const seen = new Set<string>();
  raw.forEach((e, i) => {
    const at = `${where}.parameters[${i}]`;
    if (!isObj(e) || typeof e.name !== 'string' || e.name === '') {
      p.add(at, 'needs name, type and value');
      return;
    }
    const label = `${at} (${e.name})`;
    if (seen.has(e.name)) p.add(label, `duplicate parameter '${e.name}'`);
    seen.add(e.name);
    if (!(PARAMETER_TYPES as readonly unknown[]).includes(e.type)) {
      p.add(label, `type must be one of ${PARAMETER_TYPES.join(', ')}, got ${JSON.stringify(e.type)}`);
      return;
    }
    const type = e.type as ParameterType;
    if (e.value === undefined || e.value === null || (typeof e.value === 'object' && type !== 'JSON')) {
      p.add(label, `value must be a string, got ${JSON.stringify(e.value)}`);
      return;
    }
    // YAML may give 3 or true where the CRD wants "3": the value Seldon's wrapper would see is the same text.
    const value = typeof e.value === 'string' ? e.value : JSON.stringify(e.value);
    const bad = valueProblem(type, value);
    if (bad) p.add(label, `value must be ${bad} for type ${type}, got ${JSON.stringify(e.value)}`);
    else out.push({ name: e.name, type, value });
  });
  return out;
}

export function typedValue(param: SeldonParameter): ParamValue {
  switch (param.type) {
    case 'INT':
    case 'FLOAT':
    case 'DOUBLE':
      return Number(param.value);
    case 'BOOL':
      return param.value.trim().toLowerCase() === 'true';
    default:
      return param.value;
  }
}
