/**
 * onnx-model against onnxruntime itself, in one process with the arms taking turns run by run: a bare
 * InferenceSession.run on the main thread with the options onnx-model gives its instances (sessionOptions()), the
 * onnx-model component (worker thread, input copy, queue) as configured by default and with variations, and, with
 * --python, Python's onnxruntime on the same model file with the same options (bench/onnx-gap.py, a child process
 * that runs only when asked, so that it never overlaps a Node run). Prints each arm's median ms per inference and its
 * ratio to the bare session.
 *
 *   node dist/bench/onnx-gap.js [--models models/generated/resnet50.onnx,models/generated/densenet169.onnx]
 *     [--runs 20] [--arms bare,component,nice0,uint8] [--python /path/to/python3]
 *
 * Arms: bare (main thread), bare-worker (a bare session in a worker thread, no infergraph code), component
 * (onnx-model defaults), nice0 (instanceNice 0), uint8 (uint8 input normalised in the worker, instanceNice 0),
 * python (with --python); session option variants of the bare arm: no-arena, no-pattern, extended, parallel.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import pino from 'pino';
import type { Component } from '../src/components/api';
import { CollectingCallContext } from '../src/components/call-context';
import onnxModel, { onnxModelConfig, sessionOptions } from '../src/components/builtin/onnx-model';
import { emptyMeta } from '../src/message/message';
import type { Tensor } from '../src/tensor/tensor';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Deterministic input values, the same as onnx-gap.py's pattern(). */
function inputPattern(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(((i * 7919) % 255) / 255) - 0.5;
  return out;
}

/** run() resolves to wall ms, or to [wall, cpu] ms when the arm measures CPU itself (python). */
type Arm = { name: string; run: () => Promise<number | [number, number]>; close: () => Promise<void> };

const SHAPE = [1, 3, 224, 224];
const ctx = { nodeName: 'bench', nodeType: 'MODEL' as const, baseDir: '.', logger: pino({ level: 'silent' }) };
const defaults = onnxModelConfig({ model: 'x.onnx' });

async function bareArm(model: string, name = 'bare', extra: ort.InferenceSession.SessionOptions = {}): Promise<Arm> {
  const session = await ort.InferenceSession.create(model, { ...sessionOptions(defaults), ...extra });
  const input = session.inputNames[0] as string;
  const feeds = { [input]: new ort.Tensor('float32', inputPattern(224 * 224 * 3), SHAPE) };
  return {
    name,
    run: async () => {
      const t0 = performance.now();
      await session.run(feeds);
      return performance.now() - t0;
    },
    close: () => session.release(),
  };
}

/** A bare session in a worker thread: what worker_threads alone cost, without onnx-model's queue and copies. */
async function bareWorkerArm(model: string): Promise<Arm> {
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    const ort = require(${JSON.stringify(require.resolve('onnxruntime-node'))});
    (async () => {
      const s = await ort.InferenceSession.create(workerData.model, workerData.options);
      const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', workerData.data, [1, 3, 224, 224]) };
      parentPort.on('message', async () => {
        const t0 = performance.now();
        await s.run(feeds);
        parentPort.postMessage(performance.now() - t0);
      });
      parentPort.postMessage('ready');
    })();`;
  const w = new Worker(src, {
    eval: true,
    workerData: { model, options: sessionOptions(defaults), data: inputPattern(224 * 224 * 3) },
  });
  await new Promise((resolve) => w.once('message', resolve));
  return {
    name: 'bare-worker',
    run: async () => {
      const t0 = performance.now();
      await new Promise((resolve) => {
        w.once('message', resolve);
        w.postMessage('run');
      });
      return performance.now() - t0;
    },
    close: async () => {
      await w.terminate();
    },
  };
}

async function componentArm(
  name: string,
  model: string,
  params: Record<string, string | number | boolean>,
): Promise<Arm> {
  const c = onnxModel.create({ model, ...params }, ctx) as Component;
  await c.load?.();
  const f = inputPattern(224 * 224 * 3);
  const uint8 = params.normalizeUint8 === true;
  const u = Uint8Array.from(f, (v) => Math.round((v + 0.5) * 255));
  return {
    name,
    run: async () => {
      // A fresh tensor per request, as a decoded request would be.
      const tensor: Tensor = uint8
        ? { dtype: 'uint8', shape: SHAPE, data: u.slice() }
        : { dtype: 'float32', shape: SHAPE, data: f.slice() };
      const t0 = performance.now();
      await c.predict!({ kind: 'tensor', tensor, names: ['input'] }, new CollectingCallContext(emptyMeta('bench')));
      return performance.now() - t0;
    },
    close: async () => {
      await c.close?.();
    },
  };
}

class PythonArm {
  private readonly lines: AsyncIterator<string>;
  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }
  static start(python: string): PythonArm {
    const child = spawn(python, [path.join(__dirname, '../../bench/onnx-gap.py')], { stdio: 'pipe' });
    child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    return new PythonArm(child);
  }
  async ask(line: string): Promise<string> {
    this.child.stdin.write(`${line}\n`);
    const r = await this.lines.next();
    if (r.done) throw new Error(`python arm exited (after: ${line})`);
    return r.value;
  }
  async arm(model: string): Promise<Arm> {
    const name = path.basename(model);
    const o = defaults;
    const ok = await this.ask(
      `load ${name} ${path.resolve(model)} ${o.intraOpThreads} ${o.interOpThreads} ${o.graphOptimization} ${o.spinning ? 1 : 0}`,
    );
    return {
      name: `python (onnxruntime ${ok.split(' ')[1] ?? '?'})`,
      run: async () => {
        const [wall, cpu] = (await this.ask(`run ${name}`)).split(' ').map(Number);
        return [wall as number, cpu as number];
      },
      close: async () => undefined,
    };
  }
  stop(): void {
    this.child.stdin.end();
  }
}

async function main(): Promise<void> {
  const models = arg('--models', 'models/generated/resnet50.onnx,models/generated/densenet169.onnx').split(',');
  const runs = Number(arg('--runs', '20'));
  const armNames = arg('--arms', 'bare,bare-worker,component,nice0,uint8').split(',');
  const python = process.argv.includes('--python') ? PythonArm.start(arg('--python', 'python3')) : undefined;
  console.log(
    `onnxruntime-node ${ort.env.versions.common}; ${runs} runs per arm, arms taking turns; median ms per inference (ratios to the first arm)`,
  );
  for (const model of models) {
    const arms: Arm[] = [];
    for (const a of armNames) {
      if (a === 'bare') arms.push(await bareArm(model));
      else if (a === 'bare-worker') arms.push(await bareWorkerArm(model));
      else if (a === 'no-arena')
        arms.push(await bareArm(model, 'bare, enableCpuMemArena false', { enableCpuMemArena: false }));
      else if (a === 'no-pattern')
        arms.push(await bareArm(model, 'bare, enableMemPattern false', { enableMemPattern: false }));
      else if (a === 'extended')
        arms.push(await bareArm(model, "bare, graphOptimization 'extended'", { graphOptimizationLevel: 'extended' }));
      else if (a === 'parallel')
        arms.push(await bareArm(model, "bare, executionMode 'parallel'", { executionMode: 'parallel' }));
      else if (a === 'component') arms.push(await componentArm('component (defaults)', model, {}));
      else if (a === 'nice0') arms.push(await componentArm('component, instanceNice 0', model, { instanceNice: 0 }));
      else if (a === 'uint8') {
        const p = { instanceNice: 0, normalizeUint8: true };
        arms.push(await componentArm('component, uint8 input, instanceNice 0', model, p));
      } else throw new Error(`unknown arm ${a}`);
    }
    if (python) arms.push(await python.arm(model));
    const times = arms.map((): number[] => []);
    const cpu = arms.map((): number[] => []);
    for (const arm of arms) await arm.run(); // warm-up
    for (let r = 0; r < runs; r++) {
      for (let k = 0; k < arms.length; k++) {
        const j = (k + r) % arms.length;
        // CPU time of the whole process (every thread), which a busy machine inflates far less than wall time.
        const c0 = process.cpuUsage();
        const got = await (arms[j] as Arm).run();
        const used = process.cpuUsage(c0);
        const [wall, c] = typeof got === 'number' ? [got, (used.user + used.system) / 1000] : got;
        (times[j] as number[]).push(wall);
        (cpu[j] as number[]).push(c);
      }
    }
    const base = median(times[0] as number[]);
    const baseCpu = median(cpu[0] as number[]);
    console.log(path.basename(model));
    arms.forEach((a, k) => {
      const m = median(times[k] as number[]);
      const c = median(cpu[k] as number[]);
      console.log(
        `  ${a.name.padEnd(44)} wall ${m.toFixed(1).padStart(6)} ms ${(m / base).toFixed(3)}x   ` +
          `CPU ${c.toFixed(1).padStart(6)} ms ${(c / baseCpu).toFixed(3)}x`,
      );
    });
    for (const a of arms) await a.close();
  }
  python?.stop();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
