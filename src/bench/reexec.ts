import { spawn } from 'node:child_process';

/**
 * Runs this command again in a child Node with `flags` (V8 heap sizing) unless this process already has them. The
 * bench's own process is a gRPC client moving the same tensors as the graph's processes (and hosts the in-process
 * baseline), so it gets the same V8 settings as the children the Supervisor starts; V8 heap flags cannot be set after
 * start nor through NODE_OPTIONS. Resolves with the child's exit code, or undefined when no re-exec was needed.
 */
export function reexecWithFlags(flags: readonly string[]): Promise<number> | undefined {
  const missing = flags.filter((f) => !process.execArgv.includes(f));
  if (missing.length === 0 || process.env.INFERGRAPH_BENCH_REEXEC === '1') return undefined;
  const child = spawn(process.execPath, [...process.execArgv, ...missing, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, INFERGRAPH_BENCH_REEXEC: '1' },
  });
  const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}
