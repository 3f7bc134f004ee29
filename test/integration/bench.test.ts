import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { HopReport } from '../../src/bench/hop';
import type { BenchReport } from '../../src/bench/run';
import { CLI, REPO } from '../helpers/graph-process';

/**
 * CI checks that the benchmarks run and their reports parse, nothing about speed (benchmarks are commands, not timed
 * tests): a very short bench of the test ensemble, and a very short hop bench with two codecs.
 */

const run = promisify(execFile);

describe('infergraph bench (smoke run)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-bench-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('benches the test ensemble at two levels over both hop transports, with the baseline; JSON and HTML reports', async () => {
    const out = path.join(dir, 'ensemble');
    const { stdout } = await run(
      process.execPath,
      [
        CLI,
        'bench',
        '--graph',
        path.join(REPO, 'graphs/test-ensemble.yaml'),
        '--hop-transport',
        'frames,grpc',
        '--duration',
        '1',
        '--concurrency',
        '1,2',
        '--warmup',
        '0.5',
        '--warmup-max',
        '3',
        '--out',
        out,
        '--no-progress',
      ],
      { timeout: 120_000 },
    );
    assert.match(stdout, /\| graph frames \| 1 \|/);
    // Past the least warm-up each arm settles: one 2.5 s window here, its CPU per request read from /proc.
    assert.match(
      stdout,
      /- warm-up, graph frames: 3 s; CPU per request while settling [\d.]+ ms \(still falling at --warmup-max\)/,
    );
    assert.match(stdout, /\| graph grpc \| 2 \|/);
    // The baseline's configuration (the measured best single-process one by default) is printed with its rows.
    assert.match(stdout, /- in-process baseline: onnx-model intraOpThreads 1, models in parallel/);
    const r = JSON.parse(readFileSync(path.join(out, 'bench-report.json'), 'utf8')) as BenchReport;
    assert.equal(r.kind, 'infergraph-bench');
    assert.deepEqual(
      r.levels.map((l) => l.concurrency),
      [1, 2],
    );
    assert.deepEqual(
      r.hopRuns?.map((x) => x.hopTransport),
      ['frames', 'grpc'],
    );
    assert.deepEqual(r.hopRuns?.[0]?.levels, r.levels, "levels are not the first hop transport's");
    for (const l of r.hopRuns?.flatMap((x) => x.levels) ?? []) {
      assert.ok(l.requests > 0 && l.throughput > 0, `c=${l.concurrency}: no requests`);
      assert.equal(l.errors, 0, l.errorExamples.join('; '));
      assert.ok(l.latency.p50 > 0 && l.latency.p99 >= l.latency.p50);
      assert.ok(l.overhead && l.criticalCompute, 'no per-request timelines');
      assert.deepEqual(l.hops.map((h) => `${h.node}/${h.method}`).sort(), [
        'ensemble/aggregate',
        'model-a/predict',
        'model-b/predict',
        'preprocess/transformInput',
        'top1/transformOutput',
      ]);
      // Six graph processes and the bench itself, each with CPU and memory.
      assert.equal(l.processes.length, 7);
      assert.ok(l.processes.every((p) => p.rssMB > 0));
    }
    assert.match(r.answer ?? '', /tensor float32\[1,4\]/);
    assert.deepEqual(
      r.baseline?.levels.map((l) => l.concurrency),
      [1, 2],
    );
    assert.equal(r.baseline?.models, 'parallel');
    // Every arm warmed at least --warmup and at most --warmup-max, with its settling window measured.
    assert.deepEqual(
      r.warmups?.map((w) => w.arm),
      ['graph frames', 'graph grpc', 'in-process'],
    );
    for (const w of r.warmups ?? []) {
      assert.ok(w.seconds >= 2.9 && w.seconds < 4, JSON.stringify(w));
      assert.equal(w.windows.length, 1, JSON.stringify(w));
      assert.ok((w.windows[0]?.requests ?? 0) > 0 && (w.windows[0]?.cpuMsPerRequest ?? 0) > 0, JSON.stringify(w));
    }
    assert.equal(r.options.warmupMaxS, 3);
    assert.ok(r.ratios?.latency && r.ratios.throughput);
    const targets = ['<= 3 (then 1.5)', '<= 8 (then 4)', '>= 0.95', '<= 1.05', '>= 1.0', '<= 0.4 (tiny tensors)'];
    assert.deepEqual(
      r.targets.map((t) => t.target),
      targets,
    );
    assert.ok(
      r.targets.every((t) => typeof t.value === 'number' && t.value > 0),
      JSON.stringify(r.targets),
    );
    const html = readFileSync(path.join(out, 'bench-report.html'), 'utf8');
    assert.match(html, /<svg[\s\S]*<\/svg>/);
    assert.ok(!/<script|https?:\/\/(?!www\.w3\.org)/.test(html), 'the report must be self-contained');
  });

  it('benches a SeldonDeployment as it is (two predictors and a shadow, converted as `up` converts them)', async () => {
    const out = path.join(dir, 'seldon');
    const { stdout } = await run(
      process.execPath,
      [
        CLI,
        'bench',
        '--graph',
        path.join(REPO, 'test/fixtures/traffic/canary-shadow.yaml'),
        '--duration',
        '1',
        '--concurrency',
        '1',
        '--warmup',
        '0.5',
        '--warmup-max',
        '0',
        '--no-baseline',
        '--out',
        out,
        '--no-progress',
      ],
      { timeout: 120_000 },
    );
    assert.match(stdout, /\| graph \| 1 \|/);
    const r = JSON.parse(readFileSync(path.join(out, 'bench-report.json'), 'utf8')) as BenchReport;
    assert.equal(r.levels[0]?.errors, 0);
    assert.ok((r.levels[0]?.requests ?? 0) > 0);
  });

  it('bench hop compares codecs through one node and reports per-hop overhead', async () => {
    const out = path.join(dir, 'hop');
    const { stdout } = await run(
      process.execPath,
      [
        CLI,
        'bench',
        'hop',
        '--codecs',
        'tftensor,flatbuffers',
        '--shape',
        '1,3,32,32',
        '--transport',
        'unix',
        '--duration',
        '0.6',
        '--warmup',
        '0.3',
        '--rounds',
        '2',
        '--out',
        out,
        '--no-progress',
      ],
      { timeout: 60_000 },
    );
    assert.match(stdout, /\| unix \| frames \| one-way \| flatbuffers \|/);
    const r = JSON.parse(readFileSync(path.join(out, 'hop-report.json'), 'utf8')) as HopReport;
    const cases = ['echo tftensor', 'echo flatbuffers', 'one-way tftensor', 'one-way flatbuffers'];
    const expected = [...cases.map((c) => `grpc ${c}`), ...cases.map((c) => `frames ${c}`)];
    assert.deepEqual(
      r.results.map((x) => `${x.hop} ${x.mode} ${x.codec}`),
      expected,
    );
    for (const x of r.results) {
      assert.ok(x.echoOk && x.calls > 0 && x.roundTrip.p50 > 0 && x.overhead.p50 > 0, JSON.stringify(x));
      assert.ok(x.requestBytes > 3 * 32 * 32 * 4);
    }
    assert.ok(existsSync(path.join(out, 'hop-report.html')));
  });
});
