import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { RequestRecord } from './fake-apiserver';
import { REPO } from './graph-process';

/**
 * RBAC as the operator tests check it: the `group|resource|verb` triples the requests to the stand-in API server
 * needed, and those k8s/operator.yaml grants (its ClusterRole and Role).
 */

type Obj = Record<string, any>;

/** The groups of the autoscalers' rules, which test/integration/operator-autoscaling.test.ts exercises. */
export const AUTOSCALER_GROUPS = ['autoscaling', 'keda.sh'];

export const groupOf = (triple: string): string => triple.split('|')[0] ?? '';

export function neededRules(requests: RequestRecord[]): Set<string> {
  const needed = new Set<string>();
  for (const r of requests) {
    const parts = r.path.split('/').filter(Boolean);
    const core = parts[0] === 'api';
    const rest = parts.slice(core ? 2 : 3);
    if (rest.length === 0) continue; // discovery: allowed to every authenticated user (system:discovery)
    const group = core ? '' : parts[1];
    const i = rest[0] === 'namespaces' ? 2 : 0;
    const [resource, name, sub] = [rest[i], rest[i + 1], rest[i + 2]];
    const verb = {
      GET: name ? 'get' : r.query.watch === 'true' ? 'watch' : 'list',
      POST: 'create',
      PUT: 'update',
      PATCH: 'patch',
      DELETE: 'delete',
    }[r.method];
    needed.add(`${group}|${resource}${sub ? `/${sub}` : ''}|${verb}`);
    // A server-side apply that creates the object is authorized as create as well.
    if (r.contentType === 'application/apply-patch+yaml') needed.add(`${group}|${resource}|create`);
  }
  return needed;
}

export function grantedRules(file = path.join(REPO, 'k8s/operator.yaml')): Set<string> {
  const objs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Obj);
  const rules = objs.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role').flatMap((o) => o.rules as Obj[]);
  return new Set(
    rules.flatMap((rule) =>
      rule.apiGroups.flatMap((g: string) =>
        rule.resources.flatMap((res: string) => rule.verbs.map((v: string) => `${g}|${res}|${v}`)),
      ),
    ),
  );
}
