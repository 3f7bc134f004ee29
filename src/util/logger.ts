import pino, { type Logger } from 'pino';

/** One pino logger per process, JSON lines on stderr (stdout stays free for the CLI's own output). */
export function createLogger(name: string, level: string = 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}

export type { Logger };
