/**
 * How `infergraph up` prints the log lines of its processes (each a pino JSON line, or a plain line such as a crash's
 * stack trace). json: one JSON object per line, for a log collector; a child's pino line passes through unchanged
 * (its `name` and `pid` say which process), a plain line is wrapped with the process's name. pretty: one readable line
 * per event for a terminal — time, level, the process's name in its own colour, the message, then the other fields.
 */

export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const LEVELS: Record<number, { name: string; colour?: number }> = {
  10: { name: 'TRACE', colour: 90 },
  20: { name: 'DEBUG', colour: 90 },
  30: { name: 'INFO ' },
  40: { name: 'WARN ', colour: 33 },
  50: { name: 'ERROR', colour: 31 },
  60: { name: 'FATAL', colour: 41 },
};
/** Cyan, yellow, magenta, green, blue and their bright forms: distinct on dark and light terminals. */
const PALETTE = [36, 33, 35, 32, 34, 96, 93, 95, 92, 94];
/** pino's own fields, shown in the line's fixed columns or not at all. */
const SHOWN = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname', 'v']);

export class LogPrinter {
  private readonly colours = new Map<string, number>();
  private width = 8;

  constructor(
    private readonly write: (text: string) => void,
    readonly format: LogFormat,
    /** ANSI colours (pretty only): off for NO_COLOR or when the caller knows the terminal has none. */
    private readonly colour = true,
  ) {}

  /** One line that `process` wrote. */
  line(process: string, line: string): void {
    const event = parse(line);
    if (this.format === 'json') {
      this.write(event ? `${line}\n` : `${JSON.stringify({ process, msg: line })}\n`);
      return;
    }
    this.width = Math.min(24, Math.max(this.width, process.length));
    const who = this.paint(this.colourOf(process), process.padEnd(this.width));
    if (!event) {
      this.write(`${' '.repeat(19)}${who} | ${line}\n`);
      return;
    }
    // A JSON line with no pino level (a user's container logging JSON of its own) gets its own level, or a blank.
    const own = typeof event.level === 'string' || typeof event.level === 'number' ? String(event.level) : '';
    const level = LEVELS[Number(event.level)] ?? { name: own.padEnd(5) };
    const time = typeof event.time === 'number' ? clock(event.time) : ' '.repeat(12);
    const fields = Object.entries(event)
      .filter(([k]) => !SHOWN.has(k))
      .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
    const msg = typeof event.msg === 'string' ? event.msg : '';
    const rest = fields.length ? ` ${this.paint(90, fields.join(' '))}` : '';
    this.write(`${time} ${this.paint(level.colour, level.name)} ${who} | ${msg}${rest}\n`);
  }

  private colourOf(process: string): number {
    let c = this.colours.get(process);
    if (c === undefined) this.colours.set(process, (c = PALETTE[this.colours.size % PALETTE.length] as number));
    return c;
  }

  private paint(code: number | undefined, text: string): string {
    return this.colour && code !== undefined ? `\x1b[${code}m${text}\x1b[0m` : text;
  }
}

function parse(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** HH:MM:SS.mmm, local time: a terminal reader's clock. */
function clock(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}
