import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HopClient } from '../../../src/executor/hop-client';
import { graph, node } from '../../helpers/spec';

/** Which wire each hop takes: frames only for nodes infergraph started with a frame listener, when the graph says so. */

describe('hop transport choice (HopClient)', () => {
  const local = node('local', 'MODEL');
  const foreign = { ...node('seldon-python', 'MODEL'), endpoint: '10.0.0.7:9000' };
  const silent = node('no-frames', 'MODEL');
  const root = node('root', 'COMBINER', [local, foreign, silent]);
  const addresses = { root: 'unix:/r.sock', local: 'unix:/l.sock', 'no-frames': 'unix:/n.sock' };
  const frames = { root: 'unix:/r.sock.frames', local: 'unix:/l.sock.frames', 'seldon-python': 'unix:/s.frames' };

  it('frames for started nodes with a frame address; gRPC for endpoint: nodes and nodes without one', async () => {
    const c = new HopClient({ graph: graph(root), addresses, framesAddresses: frames });
    try {
      assert.deepEqual(
        [root, local, foreign, silent].map((n) => c.transportOf(n)),
        ['frames', 'frames', 'grpc', 'grpc'],
      );
    } finally {
      await c.close();
    }
  });

  it('gRPC everywhere when the graph says grpc, or when no node listens for frames', async () => {
    for (const c of [
      new HopClient({ graph: { ...graph(root), hopTransport: 'grpc' }, addresses, framesAddresses: frames }),
      new HopClient({ graph: graph(root), addresses }),
    ]) {
      try {
        assert.deepEqual(
          [root, local, foreign, silent].map((n) => c.transportOf(n)),
          ['grpc', 'grpc', 'grpc', 'grpc'],
        );
      } finally {
        await c.close();
      }
    }
  });
});
