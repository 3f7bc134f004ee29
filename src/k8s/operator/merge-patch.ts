import { isDeepStrictEqual } from 'node:util';

/**
 * The JSON merge patch (RFC 7386) that turns `from` into `to`. Status is written by merge patch, and a patch of the
 * new status alone keeps every key the old one had and the new one lacks (a pruned predictor's deploymentStatus, the
 * status Seldon's operator left): the object then never matches what the operator computes, and each status write
 * wakes its watch for another reconcile, without end. Keys `to` lacks are therefore sent as null.
 */

type Json = Record<string, unknown>;

const isMap = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergePatchTo(from: unknown, to: unknown): unknown {
  if (!isMap(from) || !isMap(to)) return to;
  const out: Json = {};
  for (const k of Object.keys(from)) if (!(k in to)) out[k] = null;
  for (const [k, v] of Object.entries(to)) out[k] = mergePatchTo(from[k], v);
  return out;
}

/**
 * The status patch from a resource's stored status to the one computed for it (both as JSON would carry them), or
 * undefined when they are equal: writing an unchanged status would only wake the watch, and the reconcile, again.
 */
export function statusPatch(stored: unknown, computed: unknown): Json | undefined {
  const before: unknown = JSON.parse(JSON.stringify(stored ?? {}));
  const after: unknown = JSON.parse(JSON.stringify(computed));
  return isDeepStrictEqual(before, after) ? undefined : (mergePatchTo(before, after) as Json);
}
