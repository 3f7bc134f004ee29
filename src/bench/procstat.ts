import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU time and memory of processes from /proc (Linux): /proc/<pid>/stat fields 14-15 (utime, stime, all threads,
 * in clock ticks) and /proc/<pid>/status VmRSS / VmHWM. CPU is reported as % of one core over an interval, so two
 * busy cores read 200 %. On systems without /proc the samples are simply absent.
 */

export interface ProcSample {
  /** utime + stime in seconds */
  cpuSeconds: number;
  rssBytes: number;
  /** peak RSS since the process started */
  hwmBytes: number;
  threads: number;
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

export function sampleProcess(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields are counted after its last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11]) + Number(rest[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) * 1024;
    const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    return { cpuSeconds: ticks / clockTicks(), rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM'), threads };
  } catch {
    return undefined;
  }
}

export interface WatchedProcess {
  name: string;
  role: string;
  pid: number;
}

export interface ProcUsage {
  name: string;
  role: string;
  pid: number;
  /** % of one core over the interval */
  cpuPercent: number;
  rssMB: number;
  peakRssMB: number;
  threads: number;
}

/** CPU% over an interval, for a fixed set of processes: start() at the beginning, stop() at the end. */
export class ProcWatch {
  private start0 = 0;
  private before = new Map<number, ProcSample>();

  constructor(private readonly procs: () => WatchedProcess[]) {}

  start(): void {
    this.start0 = performance.now();
    this.before = new Map();
    for (const p of this.procs()) {
      const s = sampleProcess(p.pid);
      if (s) this.before.set(p.pid, s);
    }
  }

  stop(): ProcUsage[] {
    const wall = (performance.now() - this.start0) / 1000;
    const out: ProcUsage[] = [];
    for (const p of this.procs()) {
      const a = this.before.get(p.pid);
      const b = sampleProcess(p.pid);
      // A process restarted during the interval (new pid) has no start sample: it is left out, not misreported.
      if (!a || !b || wall <= 0) continue;
      out.push({
        name: p.name,
        role: p.role,
        pid: p.pid,
        cpuPercent: round1((100 * (b.cpuSeconds - a.cpuSeconds)) / wall),
        rssMB: round1(b.rssBytes / 2 ** 20),
        peakRssMB: round1(b.hwmBytes / 2 ** 20),
        threads: b.threads,
      });
    }
    return out;
  }
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
