/**
 * Field ownership as the API server's server-side apply keeps it, reduced to what the operator's behaviour depends on
 * (test/helpers/fake-apiserver.ts): each field manager owns the leaf fields it last set. An apply sets its fields and
 * removes those it set before and no longer sets, unless another manager owns them too; with force it takes over
 * fields other managers set to another value. An update (PUT, or the scale subresource an HPA writes) owns the fields
 * it changed and takes them from the others. Lists are atomic (one field), where Kubernetes merges some by key: the
 * operator is the only writer of the lists of its objects.
 */

type Obj = Record<string, any>;

export interface Manager {
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource?: string;
  /** JSON of each owned leaf's key path. */
  fields: Set<string>;
}

export type Managers = Map<string, Manager>;

const isMap = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The leaf fields a body sets: what is not the object's identity or status, metadata's labels/annotations/owners. */
export function leaves(body: Obj): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, at: string[]): void => {
    if (isMap(v) && Object.keys(v).length) for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
    else out.add(JSON.stringify(at));
  };
  for (const [k, v] of Object.entries(body)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'status') continue;
    if (k === 'metadata') {
      for (const m of ['labels', 'annotations', 'ownerReferences'])
        if (isMap(v) && v[m] !== undefined) walk(v[m], ['metadata', m]);
      continue;
    }
    walk(v, [k]);
  }
  return out;
}

export function getAt(o: Obj, path: string): unknown {
  let v: unknown = o;
  for (const k of JSON.parse(path) as string[]) v = isMap(v) ? v[k] : undefined;
  return v;
}

function deleteAt(o: Obj, path: string): void {
  const keys = JSON.parse(path) as string[];
  let v: unknown = o;
  for (const k of keys.slice(0, -1)) v = isMap(v) ? v[k] : undefined;
  if (isMap(v)) delete v[keys[keys.length - 1] as string];
}

function merge(target: Obj, src: Obj): void {
  for (const [k, v] of Object.entries(src)) {
    if (isMap(v) && isMap(target[k])) merge(target[k], v);
    else target[k] = structuredClone(v);
  }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

const copy = (m: Managers): Managers => new Map([...m].map(([name, e]) => [name, { ...e, fields: new Set(e.fields) }]));

/** Server-side apply with force of `body` (status ignored) by `manager` onto `live` (its user part, or nothing). */
export function ssaApply(
  live: Obj | undefined,
  owners: Managers,
  manager: string,
  body: Obj,
): { obj: Obj; owners: Managers } {
  const obj: Obj = structuredClone(live ?? {});
  const next = copy(owners);
  const mine = leaves(body);
  const others = [...next].filter(([m]) => m !== manager);
  for (const p of next.get(manager)?.fields ?? [])
    if (!mine.has(p) && !others.some(([, e]) => e.fields.has(p))) deleteAt(obj, p);
  for (const [, e] of others)
    for (const p of mine) if (e.fields.has(p) && !same(getAt(obj, p), getAt(body, p))) e.fields.delete(p);
  const { status: _s, ...rest } = body;
  merge(obj, rest);
  next.set(manager, { operation: 'Apply', apiVersion: String(body.apiVersion), fields: mine });
  return { obj, owners: dropEmpty(next) };
}

/** An update (replace) of the whole object by `manager`, or of one subresource's fields. */
export function ssaUpdate(
  live: Obj | undefined,
  owners: Managers,
  manager: string,
  body: Obj,
  subresource?: string,
): { obj: Obj; owners: Managers } {
  const { status: _s, ...obj } = structuredClone(body);
  const next = copy(owners);
  const changed = [...leaves(obj)].filter((p) => !live || !same(getAt(live, p), getAt(obj, p)));
  for (const [, e] of next) {
    // Whoever owned a field this update changed (or removed) no longer does.
    for (const p of [...e.fields]) if (!same(getAt(obj, p), live && getAt(live, p))) e.fields.delete(p);
  }
  const mine = next.get(manager)?.fields ?? new Set<string>();
  for (const p of changed) mine.add(p);
  next.set(manager, {
    operation: 'Update',
    apiVersion: String(body.apiVersion),
    ...(subresource ? { subresource } : {}),
    fields: mine,
  });
  return { obj, owners: dropEmpty(next) };
}

function dropEmpty(m: Managers): Managers {
  for (const [name, e] of [...m]) if (!e.fields.size) m.delete(name);
  return m;
}

export const sameOwners = (a: Managers, b: Managers): boolean =>
  a.size === b.size &&
  [...a].every(([name, e]) => {
    const o = b.get(name);
    return (
      !!o &&
      o.operation === e.operation &&
      o.fields.size === e.fields.size &&
      [...e.fields].every((p) => o.fields.has(p))
    );
  });

/** metadata.managedFields as the API server writes it (FieldsV1: `f:<key>` per level; lists as one field). */
export function managedFields(owners: Managers): Obj[] {
  return [...owners].map(([manager, e]) => {
    const tree: Obj = {};
    for (const p of e.fields) {
      let at = tree;
      for (const k of JSON.parse(p) as string[]) at = at[`f:${k}`] ??= {};
    }
    return {
      manager,
      operation: e.operation,
      apiVersion: e.apiVersion,
      fieldsType: 'FieldsV1',
      fieldsV1: tree,
      ...(e.subresource ? { subresource: e.subresource } : {}),
    };
  });
}
