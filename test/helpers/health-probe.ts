import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

type CheckFn = (
  req: object,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: { status: string }) => void,
) => void;

/**
 * A grpc.health.v1 client on one persistent channel that times each Check, for measuring how fast a node answers
 * health checks while it is busy (a Kubernetes gRPC probe asks the same question).
 */
export class HealthProbe {
  private readonly client: grpc.Client;
  readonly latenciesMs: number[] = [];
  readonly statuses: string[] = [];
  readonly errors: string[] = [];

  constructor(address: string) {
    const def = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, longs: Number, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    };
    this.client = new pkg.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  }

  check(timeoutMs = 5000): Promise<void> {
    const t0 = performance.now();
    return new Promise<void>((resolve) => {
      (this.client as unknown as { check: CheckFn }).check(
        { service: '' },
        { deadline: Date.now() + timeoutMs },
        (err, res) => {
          this.latenciesMs.push(performance.now() - t0);
          if (err) this.errors.push(err.message);
          else this.statuses.push(res?.status ?? 'UNKNOWN');
          resolve();
        },
      );
    });
  }

  /** Checks every `everyMs` until `until()` is true; one check at a time. */
  async run(everyMs: number, until: () => boolean): Promise<void> {
    while (!until()) {
      await this.check();
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  percentile(p: number): number {
    const s = [...this.latenciesMs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
  }

  close(): void {
    this.client.close();
  }
}
