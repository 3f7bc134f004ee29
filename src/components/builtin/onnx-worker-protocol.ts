/**
 * Messages between onnx-model's main thread and its instance workers (worker_threads). Tensors travel as
 * transferred ArrayBuffers: the sender gives up the buffer, nothing is copied.
 */
import type * as ort from 'onnxruntime-node';
import type { CacheOutcome } from './onnx-session-cache';

export interface WorkerInit {
  model: string;
  sessionOptions: ort.InferenceSession.SessionOptions;
  softmax: boolean;
  /** Scheduling niceness for the instance's threads (0 = as the process). */
  nice: number;
  /** uint8 -> float32 lookup table (channel-major, 256 per channel) when the model normalises uint8 pixels. */
  lut?: Float32Array;
  /** The optimised-graph cache folder (onnx-session-cache.ts); undefined: no cache. */
  cacheDir?: string;
}

/** What each instance's worker gets: the pool's init and its own index (instance 0 writes the cache). */
export interface InstanceInit extends WorkerInit {
  instance: number;
}

/** When an instance got through its start, as epoch ms (the node's start-up breakdown, bench/restart-time.ts). */
export interface LoadTimes {
  /** the worker thread ran its first module */
  started: number;
  /** onnxruntime-node loaded */
  ortLoaded: number;
  /** the session created */
  session: number;
}

export type IoMeta = { name: string; isTensor: boolean; type?: string; shape?: readonly (number | string)[] };

export type FromWorker =
  | { type: 'ready'; inputs: IoMeta[]; outputs: IoMeta[]; times: LoadTimes; cache: CacheOutcome }
  | { type: 'load-error'; message: string }
  | {
      type: 'result';
      id: number;
      dtype: string;
      dims: number[];
      buffer: ArrayBuffer;
      byteOffset: number;
      length: number;
      /** String outputs travel by structured clone instead of the buffer. */
      strings?: string[];
      runMs: number;
    }
  | { type: 'run-error'; id: number; message: string };

export type ToWorker =
  | {
      type: 'run';
      id: number;
      input: string;
      output: string;
      dtype: string;
      dims: number[];
      buffer: ArrayBuffer;
      byteOffset: number;
      length: number;
      /** String inputs travel by structured clone instead of the buffer. */
      strings?: string[];
      /** uint8 pixels to normalise into float32 with the init's table before the run. */
      normalise: boolean;
    }
  /** Release the session and end the thread, after the run in progress (if any) has answered. */
  | { type: 'close' }
  /** Throw an uncaught error in the worker, as a bug would (tests of crash recovery). */
  | { type: 'crash' };
