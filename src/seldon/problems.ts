import { Problems, type Obj } from '../graph/check';

/** Problems (refusals) plus warnings: what Kubernetes accepts but infergraph ignores, said once, not failed. */
export class SeldonProblems extends Problems {
  readonly warnings: string[] = [];
  warn(where: string, what: string): void {
    this.warnings.push(`${where}: ${what}`);
  }
  /** Unknown fields: warnings, as the API server's pruning makes them (kubectl prints "unknown field"). */
  unknown(where: string, o: Obj, allowed: readonly string[]): void {
    for (const k of Object.keys(o))
      if (!allowed.includes(k)) this.warn(where, `unknown field '${k}' ignored (Kubernetes prunes it from the object)`);
  }
}
