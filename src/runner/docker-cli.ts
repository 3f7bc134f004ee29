import { execFile } from 'node:child_process';

/**
 * The docker command line, as the local runner uses it: asynchronous (a `docker pull` or `docker stop` must not
 * freeze the runner, which is also watching its node processes), each call with a deadline, the result as code +
 * output rather than a throw, so the caller words the failure for the node it concerns.
 */

export interface DockerResult {
  code: number;
  out: string;
  err: string;
}

export interface DockerCli {
  /** The client binary: $DOCKER, else `docker` on PATH (which honours DOCKER_HOST and docker contexts). */
  readonly bin: string;
  run(args: string[], o?: RunOptions): Promise<DockerResult>;
}

export interface RunOptions {
  timeoutMs?: number;
  /** Ends the call early (SIGTERM to the client): `up` stopping during a long `docker pull`. */
  signal?: AbortSignal;
}

/** Long enough for a `docker stop` of a container that ignores SIGTERM; pulls pass their own deadline. */
const DEFAULT_TIMEOUT_MS = 60_000;

export function dockerCli(bin = process.env.DOCKER || 'docker'): DockerCli {
  return {
    bin,
    run: (args, { timeoutMs = DEFAULT_TIMEOUT_MS, signal } = {}) =>
      new Promise((resolve) => {
        const opts = { timeout: timeoutMs, maxBuffer: 16 * 2 ** 20, ...(signal ? { signal } : {}) };
        execFile(bin, args, opts, (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
          // A missing binary, a timeout or an abort has no stderr of docker's: say what happened instead.
          const why = err && code === -1 ? (err.killed ? `ended after ${timeoutMs} ms or on stop` : err.message) : '';
          resolve({ code, out: stdout, err: `${stderr}${why}`.trim() });
        });
      }),
  };
}

/** The first line of docker's complaint, for one-line messages. */
export const firstLine = (r: DockerResult): string => r.err.split('\n').find((l) => l.trim()) ?? `exit ${r.code}`;

/**
 * Whether a Docker engine answers: `docker info` against whatever the client is pointed at (DOCKER_HOST, the
 * current context, else the local socket). Undefined when it does, else why not, for the refusal message.
 */
export async function dockerEngineProblem(d: DockerCli): Promise<string | undefined> {
  const r = await d.run(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 15_000 });
  if (r.code === 0 && r.out.trim()) return undefined;
  return `'${d.bin} info' failed: ${firstLine(r)}`;
}
