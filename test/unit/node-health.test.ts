import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { NodeHealthWatcher } from '../../src/executor/node-health';

async function healthServer(
  status: 'SERVING' | 'NOT_SERVING',
): Promise<{ server: grpc.Server; health: HealthImplementation; address: string }> {
  const server = new grpc.Server();
  const health = new HealthImplementation({ '': status });
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { server, health, address: `127.0.0.1:${port}` };
}

describe('NodeHealthWatcher', () => {
  it('reports all-SERVING only once every node answered, follows changes, and a vanished node at once', async () => {
    const a = await healthServer('SERVING');
    const b = await healthServer('NOT_SERVING');
    const events: [boolean, string[]][] = [];
    let notify: () => void = () => undefined;
    const next = (): Promise<void> => new Promise((r) => (notify = r));
    let wait = next();
    const w = new NodeHealthWatcher({
      nodes: { a: a.address, b: b.address },
      retryMs: 50,
      onChange: (ok, down) => (events.push([ok, down]), notify()),
    });
    try {
      await wait;
      assert.deepEqual(events, [[false, ['b']]]);
      wait = next();
      b.health.setStatus('', 'SERVING');
      await wait;
      assert.deepEqual(events.at(-1), [true, []]);
      assert.equal(w.allServing(), true);
      wait = next();
      // No polling interval: the broken watch stream is the news.
      a.server.forceShutdown();
      await wait;
      assert.deepEqual(events.at(-1), [false, ['a']]);
      assert.deepEqual(w.statuses(), { a: 'UNKNOWN', b: 'SERVING' });
    } finally {
      w.close();
      a.server.forceShutdown();
      b.server.forceShutdown();
    }
  });
});
