import { randomUUID } from 'node:crypto';
import type { Meta } from './message';

/**
 * Meta merging, Seldon v1 semantics made complete: later tags win key by key, routing and requestPath are unioned,
 * metrics are concatenated; the puid is kept from the request (generated once when absent).
 */
export function mergeMeta(into: Meta, ...others: Meta[]): Meta {
  const out: Meta = {
    puid: into.puid,
    tags: { ...into.tags },
    routing: { ...into.routing },
    requestPath: { ...into.requestPath },
    metrics: [...into.metrics],
  };
  for (const m of others) {
    if (!out.puid && m.puid) out.puid = m.puid;
    Object.assign(out.tags, m.tags);
    Object.assign(out.routing, m.routing);
    Object.assign(out.requestPath, m.requestPath);
    out.metrics.push(...m.metrics);
  }
  return out;
}

export const newPuid = (): string => randomUUID();

/**
 * Joins the metas of parallel branches that all started from `base`: each branch's meta already contains base's
 * metrics as a prefix, so only what each branch added is appended (no duplicated metrics).
 */
export function mergeBranches(base: Meta, branches: Meta[]): Meta {
  const out = mergeMeta(base);
  const skip = base.metrics.length;
  for (const b of branches) {
    Object.assign(out.tags, b.tags);
    Object.assign(out.routing, b.routing);
    Object.assign(out.requestPath, b.requestPath);
    out.metrics.push(...b.metrics.slice(skip));
  }
  return out;
}
