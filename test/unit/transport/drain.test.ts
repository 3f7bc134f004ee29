import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Code, InferError } from '../../../src/errors';
import { FrameChannel } from '../../../src/transport/client';
import { listenFrames, type FrameHandler, type RunningFrameServer } from '../../../src/transport/server';

/**
 * A frame server's drain over a real unix socket: stopAccepting() keeps serving the connections open, goAway()
 * answers what was received, refuses what comes later NOT_STARTED and ends each connection once it owes nothing; the
 * channel sends new calls to a fresh connection and marks calls that could not go out as not started.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Waits until `ok()` (a loaded machine may take a while to move bytes between two sockets of this process). */
async function until(ok: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    await sleep(5);
  }
}
const opts = (ms = 5000) => ({ deadline: Date.now() + ms, signal: new AbortController().signal });

async function failure(p: Promise<unknown>): Promise<InferError> {
  const e = await p.then(
    () => assert.fail('expected the call to fail'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof InferError, String(e));
  return e;
}

const handler: FrameHandler = async (req) => {
  const ms = Number(req.body.toString());
  await sleep(ms);
  return { body: Buffer.from(`slept ${ms}`), computeUs: 1 };
};

describe('framed transport: drain', () => {
  let dir: string;
  let sock: string;
  const servers: RunningFrameServer[] = [];
  const listen = async (): Promise<RunningFrameServer> => {
    const s = await listenFrames({
      address: `unix:${sock}`,
      maxMessageBytes: 1 << 20,
      handler,
      logger: pino({ level: 'silent' }),
      name: "node 'n'",
    });
    servers.push(s);
    return s;
  };
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-drain-unit-'));
    sock = path.join(dir, 'n.sock');
  });
  after(async () => {
    for (const s of servers) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('after stopAccepting, the open connection is served (new calls too) and no new one is taken', async () => {
    const server = await listen();
    const channel = new FrameChannel(server.address, { maxMessageBytes: 1 << 20 });
    const other = new FrameChannel(server.address, { maxMessageBytes: 1 << 20 });
    try {
      await channel.call('predict', 'seldon', Buffer.from('1'), opts());
      server.stopAccepting();
      const r = await channel.call('predict', 'seldon', Buffer.from('20'), opts());
      assert.equal(r.body.toString(), 'slept 20');
      assert.equal(server.connections, 1);
      const e = await failure(other.call('predict', 'seldon', Buffer.from('1'), opts()));
      assert.equal(e.code, Code.UNAVAILABLE);
      assert.match(e.message, /cannot connect/);
      assert.equal(e.notStarted, undefined, 'a node never heard from is not known to be draining');
    } finally {
      channel.close();
      other.close();
      await server.close();
    }
  });

  it('goAway: calls received are answered, the connection then ends; later calls are not started', async () => {
    const server = await listen();
    const channel = new FrameChannel(server.address, { maxMessageBytes: 1 << 20 });
    try {
      const running = channel.call('predict', 'seldon', Buffer.from('150'), opts());
      await until(() => server.inFlight === 1, 'the call reached the node');
      server.goAway('test drain');
      await sleep(20);
      // The GOAWAY has arrived: a new call needs a fresh connection, and nothing listens any more.
      const refused = await failure(channel.call('predict', 'seldon', Buffer.from('1'), opts()));
      assert.equal(refused.code, Code.UNAVAILABLE);
      assert.equal(refused.notStarted, true, refused.message);
      assert.equal((await running).body.toString(), 'slept 150');
      await until(() => server.connections === 0, 'the drained connection was closed');
      // The node's successor on the same address takes the next call; the mark is gone once connected.
      const next = await listen();
      await sleep(250); // the channel's reconnect backoff
      const r = await channel.call('predict', 'seldon', Buffer.from('5'), opts());
      assert.equal(r.body.toString(), 'slept 5');
      await next.close();
    } finally {
      channel.close();
      await server.close();
    }
  });

  it('a request that crosses the GOAWAY on the wire is refused NOT_STARTED, the one before it answered', async () => {
    const server = await listen();
    const channel = new FrameChannel(server.address, { maxMessageBytes: 1 << 20 });
    try {
      await channel.call('predict', 'seldon', Buffer.from('1'), opts());
      const first = channel.call('predict', 'seldon', Buffer.from('100'), opts());
      await until(() => server.inFlight === 1, 'the first call reached the node');
      // The node goes away while the second request is on its way: written before the channel hears GOAWAY.
      server.goAway('test drain');
      const crossing = channel.call('predict', 'seldon', Buffer.from('1'), opts());
      const e = await failure(crossing);
      assert.equal(e.code, Code.UNAVAILABLE);
      assert.equal(e.notStarted, true);
      assert.match(e.message, /node 'n': draining \(test drain\); call not started/);
      assert.equal((await first).body.toString(), 'slept 100');
    } finally {
      channel.close();
      await server.close();
    }
  });
});
