import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogPrinter } from '../../src/util/log-format';

const printed = (format: 'pretty' | 'json', colour: boolean, lines: [string, string][]): string[] => {
  const out: string[] = [];
  const p = new LogPrinter((s) => out.push(s), format, colour);
  for (const [who, line] of lines) p.line(who, line);
  return out;
};

const pino = (o: Record<string, unknown>): string =>
  JSON.stringify({ level: 30, time: new Date(2026, 0, 2, 3, 4, 5, 6).getTime(), pid: 7, name: 'x', ...o });

describe('infergraph up log lines', () => {
  it('json: a pino line passes unchanged, a plain line becomes a JSON object naming its process', () => {
    const line = pino({ msg: 'node listening', address: 'unix:/tmp/a.sock' });
    const out = printed('json', false, [
      ['resnet50', line],
      ['resnet50', 'Error: boom'],
    ]);
    assert.deepEqual(out, [`${line}\n`, '{"process":"resnet50","msg":"Error: boom"}\n']);
    for (const l of out) JSON.parse(l);
  });

  it('pretty: one line per event, time, level, process, message, then the other fields', () => {
    const out = printed('pretty', false, [
      ['resnet50', pino({ msg: 'node listening', address: 'unix:/tmp/a.sock', limits: { maxQueue: 64 } })],
      ['combiner', pino({ level: 40, msg: 'slow', note: 'two words' })],
      ['combiner', '    at f (x.js:1:1)'],
      // A container's own JSON line: no time, no level.
      ['model', '{"http":9000,"unit":"model"}'],
    ]);
    assert.deepEqual(out, [
      '03:04:05.006 INFO  resnet50 | node listening address=unix:/tmp/a.sock limits={"maxQueue":64}\n',
      '03:04:05.006 WARN  combiner | slow note="two words"\n',
      `${' '.repeat(19)}combiner |     at f (x.js:1:1)\n`,
      `${' '.repeat(19)}model    |  http=9000 unit=model\n`,
    ]);
  });

  it('pretty with colour: each process keeps its own colour', () => {
    const [a1, b1, a2] = printed('pretty', true, [
      ['a', pino({ msg: 'one' })],
      ['b', pino({ msg: 'two' })],
      ['a', pino({ msg: 'three' })],
    ]);
    const colourOf = (l: string | undefined, who: string): string | undefined =>
      new RegExp(`\\x1b\\[(\\d+)m${who}\\s*\\x1b\\[0m`).exec(l ?? '')?.[1];
    assert.ok(colourOf(a1, 'a'));
    assert.equal(colourOf(a2, 'a'), colourOf(a1, 'a'));
    assert.notEqual(colourOf(b1, 'b'), colourOf(a1, 'a'));
  });
});
