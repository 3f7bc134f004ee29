import pino, { type Logger } from 'pino';

/**
 * One pino logger per process, JSON lines on stderr (stdout stays free for the CLI's own output), or handed to
 * `write` one line at a time (`infergraph up` prints its own lines as it prints its children's: log-format.ts).
 */
export function createLogger(name: string, level: string = 'info', write?: (line: string) => void): Logger {
  const destination = write ? { write: (s: string) => write(s.endsWith('\n') ? s.slice(0, -1) : s) } : undefined;
  return pino({ name, level, base: { pid: process.pid } }, destination ?? pino.destination({ fd: 2, sync: true }));
}

export type { Logger };
