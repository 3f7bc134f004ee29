import { spawn } from 'node:child_process';
import { MALLOC_ENV } from '../runner/supervisor';

/**
 * Runs this command again in a child Node with `flags` (V8 heap sizing) and the graph children's malloc settings
 * (MALLOC_ENV) unless this process already has them. The bench's own process is a gRPC client moving the same
 * tensors as the graph's processes and hosts the in-process baseline, so it gets the same V8 and allocator settings
 * as the children the Supervisor starts (neither can be set after start; V8's heap flags not through NODE_OPTIONS).
 * Without MALLOC_ARENA_MAX=2 the baseline paid for it: onnx-model in a worker thread took 1.09x the CPU of a bare
 * session against 1.02x with it, jpeg-input ~15 % more CPU (docs/performance.md section 7). Resolves with the
 * child's exit code, or undefined when no re-exec was needed.
 */
export function reexecWithFlags(flags: readonly string[]): Promise<number> | undefined {
  const missing = flags.filter((f) => !process.execArgv.includes(f));
  const envMissing = Object.keys(MALLOC_ENV).some((k) => process.env[k] === undefined);
  if ((missing.length === 0 && !envMissing) || process.env.INFERGRAPH_BENCH_REEXEC === '1') return undefined;
  const child = spawn(process.execPath, [...process.execArgv, ...missing, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...MALLOC_ENV, ...process.env, INFERGRAPH_BENCH_REEXEC: '1' },
  });
  const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}
