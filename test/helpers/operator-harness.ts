import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import type { FakeApiServer } from './fake-apiserver';

/** What the operator tests share: polling, a kubeconfig for the stand-in API server, waiting for a quiet operator. */

export async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function kubeConfig(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'stand-in', server, skipTLSVerify: true }],
    users: [{ name: 'operator', token: 'not-checked' }],
    contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'operator', namespace: 'default' }],
    currentContext: 'stand-in',
  });
  return kc;
}

/** Waits until the operator has sent nothing but lease renewals for a while (no reconcile in flight). */
export function quiet(fake: FakeApiServer): Promise<true> {
  let seen = -1;
  let since = Date.now();
  return waitFor('a quiet operator', () => {
    const n = fake.requests.filter((r) => !r.path.includes('/leases')).length;
    if (n !== seen) [seen, since] = [n, Date.now()];
    return Date.now() - since > 300;
  });
}
