import type { JsonValue } from '../../message/message';
import type { WireValue } from './wire-types';

/** google.protobuf.Value <-> plain JSON. */
export function valueToJson(v: WireValue | undefined | null): JsonValue {
  if (!v) return null;
  const kind = v.kind ?? Object.keys(v).find((k) => k !== 'kind');
  switch (kind) {
    case 'numberValue':
      return v.numberValue ?? 0;
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ?? false;
    case 'structValue': {
      const out: Record<string, JsonValue> = {};
      for (const [k, f] of Object.entries(v.structValue?.fields ?? {})) out[k] = valueToJson(f);
      return out;
    }
    case 'listValue':
      return (v.listValue?.values ?? []).map(valueToJson);
    default:
      return null;
  }
}

export function jsonToValue(j: JsonValue): WireValue {
  if (j === null || j === undefined) return { nullValue: 'NULL_VALUE' };
  switch (typeof j) {
    case 'number':
      return { numberValue: j };
    case 'string':
      return { stringValue: j };
    case 'boolean':
      return { boolValue: j };
    default:
      if (Array.isArray(j)) return { listValue: { values: j.map(jsonToValue) } };
      return { structValue: { fields: Object.fromEntries(Object.entries(j).map(([k, v]) => [k, jsonToValue(v)])) } };
  }
}
