import type { Logger } from 'pino';
import { statusOf, type KubeApi, type Lease } from './kube-api';

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: take the lease when it is free or its
 * holder stopped renewing, renew it while leading, and write it only with the resourceVersion just read, so two
 * operators racing for it cannot both win (the loser gets 409 Conflict). Losing the lease stops the leader's work.
 */

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  /** How often to try to take the lease, and to renew it while leading. */
  retryMs?: number;
  logger: Logger;
  now?: () => number;
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenew = 0;
  private inflight: Promise<void> = Promise.resolve();
  /** Whether the API server has answered at all (readiness). */
  contacted = false;

  constructor(
    private readonly api: KubeApi,
    private readonly o: LeaderOptions,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  private get duration(): number {
    return this.o.leaseDurationSeconds ?? 15;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** Calls onStart when this process becomes the leader and onStop when it loses the lease. */
  run(onStart: () => void, onStop: () => void): void {
    const tick = async (): Promise<void> => {
      if (this.stopped) return;
      let held = false;
      try {
        held = await this.tryAcquireOrRenew();
        this.contacted = true;
        if (held) this.lastRenew = this.now();
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'lease update failed');
        // A leader keeps leading until its lease would have expired for everyone else.
        held = this.leading && this.now() - this.lastRenew < this.duration * 1000 * 0.8;
      }
      if (this.stopped) {
        // Stopping: hold on to the fact that the lease is ours so stop() releases it; start nothing.
        this.leading = held;
        return;
      }
      if (held && !this.leading) {
        this.leading = true;
        this.o.logger.info(
          { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity },
          'became the leader',
        );
        onStart();
      } else if (!held && this.leading) {
        this.leading = false;
        this.o.logger.warn({ identity: this.o.identity }, 'lost the lease');
        onStop();
      }
      if (!this.stopped)
        this.timer = setTimeout(() => {
          this.inflight = tick();
        }, this.o.retryMs ?? 2000);
    };
    this.inflight = tick();
  }

  async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.o;
    const nowIso = new Date(this.now()).toISOString();
    const current = await this.api.getLease(namespace, name);
    if (!current) {
      const lease: Lease = {
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: this.duration,
          acquireTime: nowIso,
          renewTime: nowIso,
          leaseTransitions: 0,
        },
      };
      return this.write(() => this.api.createLease(lease));
    }
    const s = current.spec;
    const mine = s.holderIdentity === identity;
    const renewed = s.renewTime ? Date.parse(s.renewTime) : 0;
    const expired = !s.holderIdentity || renewed + (s.leaseDurationSeconds ?? this.duration) * 1000 < this.now();
    if (!mine && !expired) return false;
    const spec: Lease['spec'] = mine
      ? { ...s, renewTime: nowIso, leaseDurationSeconds: this.duration }
      : {
          holderIdentity: identity,
          leaseDurationSeconds: this.duration,
          acquireTime: nowIso,
          renewTime: nowIso,
          leaseTransitions: (s.leaseTransitions ?? 0) + 1,
        };
    return this.write(() => this.api.replaceLease({ metadata: current.metadata, spec }));
  }

  private async write(op: () => Promise<Lease>): Promise<boolean> {
    try {
      await op();
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false;
      throw err;
    }
  }

  /** Stops trying; a leader gives the lease up so a standby takes over at once instead of after it expires. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // A renewal in flight would otherwise land after the release and take the lease back.
    await this.inflight;
    if (!this.leading) return;
    this.leading = false;
    try {
      const current = await this.api.getLease(this.o.namespace, this.o.name);
      if (current?.spec.holderIdentity === this.o.identity) {
        await this.api.replaceLease({
          metadata: current.metadata,
          spec: { ...current.spec, holderIdentity: undefined, leaseDurationSeconds: 1 },
        });
      }
    } catch (err) {
      this.o.logger.warn({ err: (err as Error).message }, 'could not release the lease');
    }
  }
}
