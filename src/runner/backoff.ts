/**
 * The runner's restart delay for one process: `initialMs` doubling per crash in a row, capped at `maxMs`. A process
 * that served for HEALTHY_MS before it crashed starts a fresh sequence (and a fresh restart budget): a crash after a
 * long healthy run is not a crash loop, and waiting out a backoff grown by crashes hours apart only lengthens the
 * outage (issue 22: kills a few seconds apart pushed model restarts from 200 to 800 ms of backoff).
 */
export const HEALTHY_MS = 10_000;

export interface RestartState {
  /** restarts in a row, since the last healthy period */
  restarts: number;
  /** when the process last reported SERVING (epoch ms); undefined: it never did */
  servingSince?: number | undefined;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** The restarts in a row once a crash at `now` is counted: reset first if it had been serving for HEALTHY_MS. */
export function restartsInARow(s: RestartState, now: number): number {
  return s.servingSince !== undefined && now - s.servingSince >= HEALTHY_MS ? 0 : s.restarts;
}

/** The delay before the next restart, given the restarts in a row so far. */
export function restartDelay(restartsSoFar: number, b: Backoff): number {
  return Math.min(b.initialMs * 2 ** restartsSoFar, b.maxMs);
}
