/**
 * Start-up marks of this process: ms since it started (performance.now(); its origin is the process's start), so
 * a restart's time can be split into loading code, loading the component and binding (bench/restart-time.ts reads
 * them from the `startup` log line a node or executor writes once it serves).
 */
const marks: Record<string, number> = {};

export function startupMark(name: string): void {
  marks[name] = Math.round(performance.now());
}

/** The marks so far, and the process's start as epoch ms. */
export function startupMarks(): { origin: number; marks: Record<string, number> } {
  return { origin: Math.round(performance.timeOrigin), marks: { ...marks } };
}
