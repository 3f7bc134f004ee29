import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

/**
 * Runs the real `infergraph up` CLI on a manifest (port 0) and parses what it prints: the executor address, and the
 * pid and address of every process. Stopping sends SIGTERM and waits for every child pid to be gone.
 */

export const REPO = (() => {
  let d = __dirname;
  while (!existsSync(path.join(d, 'package.json'))) d = path.dirname(d);
  return d;
})();
export const CLI = path.join(REPO, 'dist/src/cli/main.js');
export const SHARED = path.resolve(REPO, '..', 'shared');

export interface ProcInfo {
  role: string;
  name: string;
  pid: number;
  address: string;
  /** where a node listens for frames (hop transport frames) */
  framesAddress?: string;
}

export interface RunningGraph {
  address: string;
  runner: ChildProcess;
  procs: Map<string, ProcInfo>;
  stdout: string[];
  stderr: string[];
  /** Resolves when a stdout/stderr line matches. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function upGraph(
  manifest: string,
  args: string[] = [],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<RunningGraph> {
  const runner = spawn(process.execPath, [CLI, 'up', manifest, '--port', '0', '--log-level', 'warn', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const procs = new Map<string, ProcInfo>();
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const onLine = (line: string): void => {
    const m = /^(node|executor) (\S+) pid (\d+) at (\S+)$/.exec(line);
    if (m)
      procs.set(m[2] as string, {
        role: m[1] as string,
        name: m[2] as string,
        pid: Number(m[3]),
        address: m[4] as string,
      });
    const f = /^node (\S+) frames at (\S+)$/.exec(line);
    const p = f && procs.get(f[1] as string);
    if (p) p.framesAddress = f[2];
    for (const w of [...waiters]) {
      if (w.re.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  createInterface({ input: runner.stdout }).on('line', (l) => (stdout.push(l), onLine(l)));
  createInterface({ input: runner.stderr }).on('line', (l) => (stderr.push(l), onLine(l)));
  const waitFor = (re: RegExp, ms = 30_000): Promise<string> => {
    const seen = [...stdout, ...stderr].find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`timed out waiting for ${re}; stderr tail:\n${stderr.slice(-15).join('\n')}`)),
        ms,
      );
      waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
      runner.once(
        'exit',
        (code) => (
          clearTimeout(t),
          reject(new Error(`runner exited (${code}) before ${re}; stderr:\n${stderr.slice(-25).join('\n')}`))
        ),
      );
    });
  };
  const ready = await waitFor(/ready at (\S+)/, timeoutMs);
  const address = (/ready at (\S+)/.exec(ready) as RegExpExecArray)[1] as string;
  return {
    address,
    runner,
    procs,
    stdout,
    stderr,
    waitFor,
    async stop() {
      const pids = [...procs.values()].map((p) => p.pid);
      if (runner.exitCode === null && runner.signalCode === null) {
        const exited = new Promise((r) => runner.once('exit', r));
        runner.kill('SIGTERM');
        await exited;
      }
      const until = Date.now() + 10_000;
      while (pids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      const left = pids.filter(alive);
      if (left.length) {
        left.forEach((p) => process.kill(p, 'SIGKILL'));
        throw new Error(`orphan processes left after stop: ${left.join(', ')}`);
      }
    },
  };
}
