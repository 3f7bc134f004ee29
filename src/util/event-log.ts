/**
 * An opt-in log of timestamped events across the graph's processes, for finding where the time of one request goes
 * between them: set INFERGRAPH_EVENT_LOG=<dir> (children inherit it) and every process appends
 * `<ns> <pid> <event> <id>` lines to <dir>/<pid>. Times are CLOCK_MONOTONIC (process.hrtime), which all processes of a
 * machine share, so events of different processes can be put on one time line (`bench/event-breakdown.ts`).
 * Off (the default), an event costs one comparison.
 *
 * Events: b.send / b.recv (the bench client's call to the executor), e.in / e.reply / e.out (the executor's Predict
 * handler: entered, walk done, answer handed to grpc-js), c.send / c.resp (the executor's frame channel: request
 * written, response frame parsed), s.start / s.reply / s.sent (a node's frame server: request parsed, reply ready,
 * reply written).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

let dir = process.env.INFERGRAPH_EVENT_LOG || undefined;
const lines: string[] = [];

export function logEvent(event: string, id: number): void {
  if (dir === undefined) return;
  lines.push(`${process.hrtime.bigint()} ${process.pid} ${event} ${id}`);
  if (lines.length >= 256) flush();
}

/** A log that cannot be written turns itself off: a diagnostic never takes a request or the process down. */
function flush(): void {
  if (dir === undefined || !lines.length) return;
  try {
    appendFileSync(path.join(dir, String(process.pid)), lines.splice(0).join('\n') + '\n');
  } catch (err) {
    console.error(`INFERGRAPH_EVENT_LOG: cannot write to ${dir} (${(err as Error).message}); event log off`);
    dir = undefined;
    lines.length = 0;
  }
}

if (dir !== undefined) {
  try {
    mkdirSync(dir, { recursive: true });
  } catch {
    // flush reports it
  }
  setInterval(flush, 1000).unref();
  process.on('exit', flush);
}
