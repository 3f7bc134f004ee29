import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { Controller, type ControllerOptions } from './controller';
import type { KubeApi } from './kube-api';
import { LeaderElector } from './leader';

/**
 * The operator process: leader election first, the controller only while leading (a standby replica waits on the
 * lease), and an HTTP health endpoint for the pod's probes (/healthz: alive; /readyz: the API server answered).
 */

export interface OperatorOptions extends Omit<ControllerOptions, 'logger'> {
  api: KubeApi;
  logger: Logger;
  lease: { namespace: string; name: string; durationSeconds?: number; retryMs?: number };
  /** host:port of the health endpoint; none when absent. */
  healthAddress?: string;
}

export interface RunningOperator {
  elector: LeaderElector;
  /** Bound health address (port 0 resolved). */
  healthAddress?: string;
  stop(): Promise<void>;
}

export async function startOperator(o: OperatorOptions): Promise<RunningOperator> {
  const elector = new LeaderElector(o.api, {
    namespace: o.lease.namespace,
    name: o.lease.name,
    identity: o.identity,
    leaseDurationSeconds: o.lease.durationSeconds,
    retryMs: o.lease.retryMs,
    logger: o.logger,
  });
  let controller: Controller | undefined;
  let stopping: Promise<void> | undefined;
  // A controller stopped after losing the lease may still finish a reconcile: the next one starts after it.
  let previous: Promise<void> = Promise.resolve();
  elector.run(
    () => {
      void previous.then(() => {
        if (!elector.isLeader || stopping) return;
        controller = new Controller(o.api, o);
        controller.start();
      });
    },
    () => {
      const c = controller;
      controller = undefined;
      previous = c ? c.stop() : previous;
    },
  );
  const server = o.healthAddress ? await listen(o.healthAddress, () => elector.contacted) : undefined;
  const address = server?.address();
  return {
    elector,
    healthAddress: address && typeof address === 'object' ? `${address.address}:${address.port}` : undefined,
    stop: () =>
      (stopping ??= (async () => {
        await previous;
        await controller?.stop();
        await elector.stop();
        await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      })()),
  };
}

function listen(address: string, ready: () => boolean): Promise<Server> {
  const i = address.lastIndexOf(':');
  const server = createServer((req, res) => {
    const ok = req.url === '/healthz' || (req.url === '/readyz' && ready());
    res
      .writeHead(ok ? 200 : req.url === '/readyz' ? 503 : 404, { 'content-type': 'text/plain' })
      .end(ok ? 'ok\n' : 'not ready\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(address.slice(i + 1)), address.slice(0, i), () => resolve(server));
  });
}
