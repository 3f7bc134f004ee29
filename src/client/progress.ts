/** A one-line progress bar on stderr; plain periodic lines when stderr is not a terminal (CI logs). */
export class Progress {
  private last = 0;
  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, extra = ''): void {
    const now = Date.now();
    if (done < this.total && now - this.last < (this.stream.isTTY ? 100 : 5000)) return;
    this.last = now;
    const frac = this.total ? done / this.total : 1;
    const width = 30;
    const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
    const line = `${this.label} ${bar} ${done}/${this.total} ${extra}`;
    if (this.stream.isTTY) this.stream.write(`\r${line}${done >= this.total ? '\n' : ''}`);
    else this.stream.write(`${line}\n`);
  }
}
