import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Code, InferError } from '../../../src/errors';
import { FrameChannel } from '../../../src/transport/client';
import { encodeRequestHead, FRAME_VERSION } from '../../../src/transport/frame';
import { listenFrames, type FrameHandler, type RunningFrameServer } from '../../../src/transport/server';

/**
 * The framed transport's server and client over real sockets in this process: many calls in flight, cancel,
 * deadlines on both sides, limits both ways, a node going away and coming back, backpressure, and random bytes.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function captureLogger(): { logger: pino.Logger; lines: { msg: string; reason?: string }[] } {
  const lines: { msg: string; reason?: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as { msg: string });
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

async function failure(p: Promise<unknown>): Promise<InferError> {
  const e = await p.then(
    () => assert.fail('expected the call to fail'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof InferError, String(e));
  return e;
}

const opts = (ms = 5000, signal = new AbortController().signal) => ({ deadline: Date.now() + ms, signal });

describe('framed transport: server and channel over a unix socket', () => {
  let dir: string;
  let server: RunningFrameServer;
  let channel: FrameChannel;
  const log = captureLogger();
  const aborted: string[] = [];
  /** body text → behaviour */
  const handler: FrameHandler = async (req) => {
    const text = req.body.toString();
    if (text.startsWith('sleep ')) {
      const ms = Number(text.slice(6));
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        req.signal.addEventListener('abort', () => {
          clearTimeout(t);
          aborted.push(text);
          reject(new Error('aborted'));
        });
      });
      return { body: Buffer.from(`slept ${ms}`), computeUs: ms * 1000 };
    }
    if (text === 'fail') throw new InferError(Code.FAILED_PRECONDITION, 'not warmed up');
    if (text.startsWith('big ')) return { body: Buffer.alloc(Number(text.slice(4)), 1), computeUs: 1 };
    if (text.startsWith('parts ')) {
      // The reply as several buffers, the way a node writes a large tensor: [head, the rest of the body, an empty one].
      const whole = Buffer.concat([Buffer.from('parts:'), req.body]);
      return { body: [whole.subarray(0, 3), whole.subarray(3), Buffer.alloc(0)], computeUs: 1 };
    }
    return { body: Buffer.concat([Buffer.from(`${req.method}/${req.codec}:`), req.body]), computeUs: 42 };
  };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-frames-'));
    server = await listenFrames({
      address: `unix:${path.join(dir, 'n.sock')}`,
      maxMessageBytes: 64 * 1024,
      handler,
      logger: log.logger,
      name: "node 'n'",
    });
    channel = new FrameChannel(server.address, { maxMessageBytes: 1 << 20 });
  });
  after(async () => {
    channel?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers with the body, the compute time and the method', async () => {
    const r = await channel.call('transformInput', 'flatbuffers', Buffer.from('abc'), opts());
    assert.equal(r.body.toString(), 'transformInput/flatbuffers:abc');
    assert.equal(r.computeUs, 42);
  });

  it('keeps many calls in flight on one connection; answers arrive out of order, each to its caller', async () => {
    const delays = Array.from({ length: 40 }, (_, i) => (40 - i) * 2);
    const replies = await Promise.all(
      delays.map((ms) => channel.call('predict', 'seldon', Buffer.from(`sleep ${ms}`), opts())),
    );
    assert.deepEqual(
      replies.map((r) => r.body.toString()),
      delays.map((ms) => `slept ${ms}`),
    );
    assert.equal(channel.inFlight, 0);
  });

  it('a body given as several buffers arrives as their concatenation, both ways, and the limit counts them all', async () => {
    const tail = Buffer.alloc(40_000, 7);
    const r = await channel.call('predict', 'seldon', [Buffer.from('parts '), Buffer.alloc(0), tail], opts());
    assert.deepEqual(r.body, Buffer.concat([Buffer.from('parts:parts '), tail]));
    const small = new FrameChannel(server.address, { maxMessageBytes: 1000 });
    try {
      const e = await failure(small.call('predict', 'seldon', [Buffer.alloc(600), Buffer.alloc(600)], opts()));
      assert.equal(e.code, Code.RESOURCE_EXHAUSTED);
      assert.match(e.message, /request of 1200 bytes is over the message limit of 1000 bytes/);
      // The node's limit (64 KiB) counts a reply's parts together too: a request at the limit, its reply 6 bytes over.
      const over = await failure(
        channel.call('predict', 'seldon', [Buffer.from('parts '), Buffer.alloc(64 * 1024 - 6)], opts()),
      );
      assert.equal(over.code, Code.RESOURCE_EXHAUSTED);
      assert.match(over.message, /reply of 65542 bytes is over the message limit of 65536 bytes/);
    } finally {
      small.close();
    }
  });

  it("the node's own status and message come back", async () => {
    const e = await failure(channel.call('predict', 'seldon', Buffer.from('fail'), opts()));
    assert.equal(e.code, Code.FAILED_PRECONDITION);
    assert.equal(e.message, 'not warmed up');
  });

  it('abort sends CANCEL: the node aborts the work; the caller gets CANCELLED at once', async () => {
    const ac = new AbortController();
    const p = channel.call('predict', 'seldon', Buffer.from('sleep 5000'), opts(10_000, ac.signal));
    await sleep(30);
    const t0 = performance.now();
    ac.abort();
    const e = await failure(p);
    assert.equal(e.code, Code.CANCELLED);
    assert.ok(performance.now() - t0 < 50);
    const until = Date.now() + 2000;
    while (!aborted.includes('sleep 5000') && Date.now() < until) await sleep(5);
    assert.ok(aborted.includes('sleep 5000'), 'the node did not abort the cancelled work');
  });

  it('the deadline fails the call with DEADLINE_EXCEEDED and stops the work on the node', async () => {
    const t0 = performance.now();
    const e = await failure(channel.call('predict', 'seldon', Buffer.from('sleep 4000'), opts(150)));
    assert.equal(e.code, Code.DEADLINE_EXCEEDED);
    assert.ok(performance.now() - t0 < 1000);
    await sleep(100);
    assert.ok(aborted.includes('sleep 4000'), 'the node kept working past the deadline');
  });

  it('the node enforces the deadline too, without the client', async () => {
    // A raw request with a deadline 100 ms away and no client timer: the node answers DEADLINE_EXCEEDED itself.
    const sock = net.connect(server.address.slice(5));
    await new Promise((r) => sock.once('connect', r));
    const body = Buffer.from('sleep 3000');
    sock.write(
      Buffer.concat([
        encodeRequestHead({
          id: 1,
          method: 'predict',
          codec: 'seldon',
          deadline: Date.now() + 100,
          traceparent: undefined,
          tracestate: undefined,
          bodyLength: body.length,
        }),
        body,
      ]),
    );
    const got = await new Promise<Buffer>((resolve) => sock.once('data', resolve));
    sock.destroy();
    assert.equal(got.readUInt8(6), 3, 'expected an ERROR frame');
    assert.equal(got.readUInt8(12), Code.DEADLINE_EXCEEDED);
    assert.match(got.toString('utf8', 13), /node 'n': deadline exceeded/);
  });

  it('a request over the node limit is RESOURCE_EXHAUSTED naming limit and size; the connection goes on', async () => {
    const e = await failure(channel.call('predict', 'seldon', Buffer.alloc(100_000), opts()));
    assert.equal(e.code, Code.RESOURCE_EXHAUSTED);
    assert.match(e.message, /request of 100000 bytes is over the message limit of 65536 bytes/);
    assert.equal(
      (await channel.call('predict', 'seldon', Buffer.from('x'), opts())).body.toString(),
      'predict/seldon:x',
    );
  });

  it('the client refuses a request over its own limit before sending it', async () => {
    const small = new FrameChannel(server.address, { maxMessageBytes: 1000 });
    try {
      const e = await failure(small.call('predict', 'seldon', Buffer.alloc(1001), opts()));
      assert.equal(e.code, Code.RESOURCE_EXHAUSTED);
      assert.match(e.message, /request of 1001 bytes is over the message limit of 1000 bytes/);
    } finally {
      small.close();
    }
  });

  it("a reply over the client's limit is RESOURCE_EXHAUSTED, refused from its prefix; the next call works", async () => {
    const small = new FrameChannel(server.address, { maxMessageBytes: 10_000 });
    try {
      const e = await failure(small.call('predict', 'seldon', Buffer.from('big 50000'), opts()));
      assert.equal(e.code, Code.RESOURCE_EXHAUSTED);
      assert.match(e.message, /reply of 50000 bytes is over the message limit of 10000 bytes/);
      assert.equal(
        (await small.call('predict', 'seldon', Buffer.from('y'), opts())).body.toString(),
        'predict/seldon:y',
      );
    } finally {
      small.close();
    }
  });

  it("a reply over the node's own limit is RESOURCE_EXHAUSTED from the node", async () => {
    const e = await failure(channel.call('predict', 'seldon', Buffer.from('big 70000'), opts()));
    assert.equal(e.code, Code.RESOURCE_EXHAUSTED);
    assert.match(e.message, /node 'n': reply of 70000 bytes is over the message limit of 65536 bytes/);
  });

  it('backpressure: many large requests queued past the bound all arrive intact', async () => {
    const bp = new FrameChannel(server.address, { maxMessageBytes: 1 << 20, maxQueuedBytes: 100_000 });
    try {
      const bodies = Array.from({ length: 30 }, (_, i) => Buffer.alloc(60_000, i));
      const replies = await Promise.all(bodies.map((b) => bp.call('predict', 'seldon', b, opts())));
      replies.forEach((r, i) =>
        assert.ok(r.body.subarray('predict/seldon:'.length).equals(bodies[i] as Buffer), `reply ${i}`),
      );
    } finally {
      bp.close();
    }
  });

  it('random bytes close only their own connection, with the reason logged; the server keeps serving', async () => {
    let seed = 12345;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const before = log.lines.filter((l) => l.msg.startsWith('malformed frame')).length;
    for (let round = 0; round < 50; round++) {
      const sock = net.connect(server.address.slice(5));
      sock.on('error', () => undefined);
      await new Promise((r) => sock.once('connect', r));
      const junk = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
      // Half the rounds start like a real frame (this version, a known type) to get past the first checks.
      if (round % 2 === 0 && junk.length >= 12) {
        junk.writeUInt32LE(Math.floor(rand() * 200), 0);
        junk.writeUInt8(1 + (round % 4), 6);
        junk.writeUInt8(FRAME_VERSION, 7);
      }
      sock.end(junk);
      await new Promise((r) => sock.once('close', r));
      // A real call on the shared channel still works after each.
      if (round % 10 === 0)
        assert.equal(
          (await channel.call('route', 'seldon', Buffer.from(`r${round}`), opts())).body.toString(),
          `route/seldon:r${round}`,
        );
    }
    const reasons = log.lines.filter((l) => l.msg.startsWith('malformed frame')).slice(before);
    assert.ok(reasons.length > 10, `only ${reasons.length} malformed connections logged`);
    assert.ok(reasons.every((l) => typeof l.reason === 'string' && l.reason.length > 0));
    assert.ok(
      log.lines.some((l) => /truncated/.test(l.msg)),
      'no truncated frame logged',
    );
  });
});

describe('framed transport: a node that goes away and comes back (TCP)', () => {
  it('calls in flight fail UNAVAILABLE, calls while down fail fast, and the channel reconnects', async () => {
    const log = captureLogger();
    const handler: FrameHandler = async (req) => {
      if (req.body.toString() === 'hang') await new Promise((r) => req.signal.addEventListener('abort', r));
      return { body: req.body, computeUs: 0 };
    };
    let server = await listenFrames({
      address: '127.0.0.1:0',
      maxMessageBytes: 1 << 20,
      handler,
      logger: log.logger,
      name: 'n',
    });
    const address = server.address;
    const channel = new FrameChannel(address, { maxMessageBytes: 1 << 20, initialBackoffMs: 50, maxBackoffMs: 200 });
    try {
      assert.equal((await channel.call('predict', 'seldon', Buffer.from('a'), opts())).body.toString(), 'a');
      const inflight = failure(channel.call('predict', 'seldon', Buffer.from('hang'), opts()));
      await sleep(20);
      await server.close();
      const e = await inflight;
      assert.equal(e.code, Code.UNAVAILABLE);
      assert.match(e.message, /connection to 127\.0\.0\.1:\d+ closed with the call in flight/);
      const t0 = performance.now();
      const down = await failure(channel.call('predict', 'seldon', Buffer.from('b'), opts()));
      assert.equal(down.code, Code.UNAVAILABLE);
      assert.match(down.message, /cannot connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
      assert.ok(performance.now() - t0 < 500);
      // Within the backoff: fails without trying.
      const fast = await failure(channel.call('predict', 'seldon', Buffer.from('c'), opts()));
      assert.match(fast.message, /not connected .*next attempt in \d+ ms/);
      server = await listenFrames({ address, maxMessageBytes: 1 << 20, handler, logger: log.logger, name: 'n' });
      const until = Date.now() + 3000;
      let ok = false;
      while (!ok && Date.now() < until) {
        ok = await channel.call('predict', 'seldon', Buffer.from('back'), opts()).then(
          (r) => r.body.toString() === 'back',
          () => false,
        );
        if (!ok) await sleep(20);
      }
      assert.ok(ok, 'the channel did not reconnect');
    } finally {
      channel.close();
      await server.close();
    }
  });
});
