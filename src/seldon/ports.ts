import { walkUnits, type Json, type SeldonDeployment } from './types';

/**
 * Seldon's port numbering (defaults.go, DefaultSeldonDeployment): every componentSpecs container, in order across all
 * predictors, gets the next HTTP port from 9000 and gRPC port from 9500, keyed by container name (a name seen again
 * keeps its ports); graph units served by a prepackaged server without a container of their own come after. Each
 * unit's container also gets the next metrics port from 6000 unless it names one. A container's own `http`, `grpc`
 * and `metrics` ports win over the numbering.
 */

export const FIRST_PORT = { http: 9000, grpc: 9500, metrics: 6000 } as const;

export interface UnitPorts {
  http: number;
  grpc: number;
  metrics: number;
}

/** predictor name -> unit name -> ports, for units served by a container (their own, or a prepackaged server's). */
export type PortPlan = Map<string, Map<string, UnitPorts>>;

const named = (c: Json, name: string): number | undefined => {
  const ports = Array.isArray(c.ports) ? (c.ports as Json[]) : [];
  const p = ports.find((x) => x.name === name)?.containerPort;
  return typeof p === 'number' ? p : undefined;
};

export function planPorts(sdep: SeldonDeployment, isServed: (unitImpl: string | undefined) => boolean): PortPlan {
  const http = new Map<string, number>();
  const grpc = new Map<string, number>();
  let nextHttp: number = FIRST_PORT.http;
  let nextGrpc: number = FIRST_PORT.grpc;
  let nextMetrics: number = FIRST_PORT.metrics;
  const take = (m: Map<string, number>, key: string, next: () => number): number => {
    if (!m.has(key)) m.set(key, next());
    return m.get(key)!;
  };
  const plan: PortPlan = new Map();
  for (const pr of sdep.predictors) {
    const units = new Map(walkUnits(pr.graph).map((u) => [u.name, u]));
    const out = new Map<string, UnitPorts>();
    plan.set(pr.name, out);
    for (const cs of pr.componentSpecs)
      for (const c of cs.spec.containers) {
        const h = take(http, c.name, () => nextHttp++);
        const g = take(grpc, c.name, () => nextGrpc++);
        if (!units.has(c.name)) continue;
        const metrics = named(c, 'metrics') ?? nextMetrics++;
        out.set(c.name, { http: named(c, 'http') ?? h, grpc: named(c, 'grpc') ?? g, metrics });
      }
    for (const u of units.values()) {
      if (out.has(u.name) || !isServed(u.implementation)) continue;
      out.set(u.name, {
        http: take(http, u.name, () => nextHttp++),
        grpc: take(grpc, u.name, () => nextGrpc++),
        metrics: nextMetrics++,
      });
    }
  }
  return plan;
}
