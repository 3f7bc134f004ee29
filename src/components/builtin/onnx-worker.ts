/**
 * One onnx-model instance: a worker thread holding its own InferenceSession. onnxruntime-node's run() blocks the
 * thread that calls it, so it is called here and never on the node's main thread, which stays free to answer
 * health checks, take cancellations and queue the next request. Inputs arrive and outputs leave as transferred
 * ArrayBuffers; uint8 pixels are normalised here, and softmax is applied here, to keep that work off the main thread.
 */
import { workerStarted } from './onnx-worker-start';
import { readdirSync, readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { softmaxRows } from './common';
import { createCachedSession, type CacheOutcome } from './onnx-session-cache';
import type { FromWorker, InstanceInit, IoMeta, ToWorker } from './onnx-worker-protocol';
import { normalisePlanar } from './uint8-normalise';

const epochNow = (): number => performance.timeOrigin + performance.now();
/** The end of this thread's imports: onnxruntime-node's, mostly. */
const ortLoaded = epochNow();
const init = workerData as InstanceInit;
const port = parentPort;
if (!port) throw new Error('onnx-worker must run in a worker thread');

const send = (msg: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer);

/** IEEE 754 half (as uint16 bits) to float32. */
function halfToFloat(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i] as number;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    out[i] =
      exp === 0
        ? sign * 2 ** -14 * (frac / 1024)
        : exp === 31
          ? frac
            ? NaN
            : sign * Infinity
          : sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  return out;
}

const ARRAYS: Record<string, new (b: ArrayBuffer, o: number, n: number) => ArrayBufferView> = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  bool: Uint8Array,
};

function describe(m: ort.InferenceSession.ValueMetadata): IoMeta {
  return m.isTensor
    ? { name: m.name, isTensor: true, type: m.type, shape: m.shape }
    : { name: m.name, isTensor: false };
}

/**
 * Lowers the scheduling priority of this thread and of `others` (Linux: nice is per thread), so that on a busy CPU
 * the node's main thread, which answers health checks and admits or refuses requests, runs first. Elsewhere, or
 * without permission, this is a no-op.
 */
function lowerPriority(nice: number, others: readonly number[]): void {
  if (nice <= 0 || process.platform !== 'linux') return;
  for (const tid of [ownTid(), ...others]) {
    try {
      if (tid !== undefined) setPriority(tid, nice);
    } catch {
      // Not fatal: inference still runs off the main thread.
    }
  }
}

function ownTid(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** This process's threads (Linux); empty elsewhere. */
function threads(): Set<number> {
  try {
    return new Set(readdirSync('/proc/self/task').map(Number));
  } catch {
    return new Set();
  }
}

async function main(): Promise<void> {
  // The session is made at normal priority, then this thread and the intra-op threads the session started are
  // lowered: a model loading after a restart (seconds of graph optimisation for ResNet-50) competes with a busy graph,
  // where a nice-10 thread gets a small share of a core, and the node is down until it has loaded.
  const before = threads();
  let session: ort.InferenceSession;
  let cache: CacheOutcome;
  try {
    ({ session, cache } = await createCachedSession(
      (file, options) => ort.InferenceSession.create(file, options),
      init.model,
      init.sessionOptions,
      { dir: init.cacheDir, write: init.instance === 0, ortVersion: ort.env.versions.common },
    ));
  } catch (err) {
    send({ type: 'load-error', message: err instanceof Error ? err.message : String(err) });
    return;
  }
  lowerPriority(
    init.nice,
    [...threads()].filter((t) => !before.has(t)),
  );
  // The pool sends one run at a time; `current` lets a close wait for it to answer.
  let current: Promise<void> = Promise.resolve();
  port!.on('message', (msg: ToWorker) => {
    if (msg.type === 'run') current = run(session, msg);
    else if (msg.type === 'close') void current.then(() => session.release()).finally(() => process.exit(0));
    else
      setImmediate(() => {
        throw new Error('crash requested');
      });
  });
  const times = { started: workerStarted, ortLoaded, session: epochNow() };
  send({
    type: 'ready',
    inputs: session.inputMetadata.map(describe),
    outputs: session.outputMetadata.map(describe),
    times,
    cache,
  });
}

function inputTensor(msg: Extract<ToWorker, { type: 'run' }>): ort.Tensor {
  if (msg.strings) return new ort.Tensor('string', msg.strings, msg.dims);
  const Ctor = ARRAYS[msg.dtype];
  if (!Ctor) throw new Error(`unsupported input dtype ${msg.dtype}`);
  const data = new Ctor(msg.buffer, msg.byteOffset, msg.length);
  if (msg.normalise && init.lut)
    return new ort.Tensor('float32', normalisePlanar(data as Uint8Array, msg.dims, init.lut), msg.dims);
  return new ort.Tensor(msg.dtype as 'float32', data as Float32Array, msg.dims);
}

async function run(session: ort.InferenceSession, msg: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  try {
    const feeds = { [msg.input]: inputTensor(msg) };
    const t0 = performance.now();
    const results = await session.run(feeds, [msg.output]);
    const runMs = performance.now() - t0;
    const value = results[msg.output];
    if (!value) throw new Error(`onnxruntime returned no output '${msg.output}'`);
    if (value.type === 'string') {
      const strings = value.data as string[];
      const empty = new ArrayBuffer(0);
      send({
        type: 'result',
        id: msg.id,
        dtype: 'string',
        dims: Array.from(value.dims),
        buffer: empty,
        byteOffset: 0,
        length: 0,
        strings,
        runMs,
      });
      return;
    }
    let out = value.data as ArrayBufferView & { length: number };
    let outType: string = value.type;
    if (outType === 'float16') {
      out = halfToFloat(out as Uint16Array);
      outType = 'float32';
    }
    if (init.softmax && (out instanceof Float32Array || out instanceof Float64Array)) {
      const dims = value.dims;
      softmaxRows(out, dims[dims.length - 1] ?? out.length);
    }
    const buffer = out.buffer as ArrayBuffer;
    send(
      {
        type: 'result',
        id: msg.id,
        dtype: outType,
        dims: Array.from(value.dims),
        buffer,
        byteOffset: out.byteOffset,
        length: out.length,
        runMs,
      },
      [buffer],
    );
  } catch (err) {
    send({ type: 'run-error', id: msg.id, message: err instanceof Error ? err.message : String(err) });
  }
}

void main();
