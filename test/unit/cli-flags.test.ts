import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { enumFlag, enumListFlag, intFlag, intListFlag, numberFlag, numberListFlag } from '../../src/cli/flags';
import { loadSpec } from '../../src/cli/spec-flags';
import { ConfigError } from '../../src/errors';
import { hopsOverFrames, walkNodes } from '../../src/graph/spec';
import { CLI, REPO } from '../helpers/graph-process';

const rejects = (fn: () => unknown, message: string): void =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.message, message);
    return true;
  });

describe('CLI flag readers', () => {
  it('integers and numbers: ranges, and nothing that only looks like one', () => {
    assert.equal(intFlag('--n', '8', { min: 1 }), 8);
    rejects(() => intFlag('--n', '0', { min: 1 }), "--n expects an integer >= 1, got '0'");
    rejects(() => intFlag('--n', '2.5', { min: 1 }), "--n expects an integer >= 1, got '2.5'");
    rejects(() => intFlag('--n', '', { min: 1 }), "--n expects an integer >= 1, got ''");
    rejects(() => intFlag('--n', '0x10'), "--n expects an integer, got '0x10'");
    rejects(
      () => intFlag('--port', '70000', { min: 0, max: 65535 }),
      "--port expects an integer from 0 to 65535, got '70000'",
    );
    assert.equal(numberFlag('--r', '0.5', { min: 0, max: 1 }), 0.5);
    rejects(() => numberFlag('--r', 'abc', { min: 0, max: 1 }), "--r expects a number from 0 to 1, got 'abc'");
    rejects(() => numberFlag('--d', '0', { above: 0 }), "--d expects a number > 0, got '0'");
  });

  it('lists and enumerations', () => {
    assert.deepEqual(intListFlag('-c', '1, 8', { min: 1 }), [1, 8]);
    rejects(() => intListFlag('-c', '1,,8', { min: 1 }), "-c expects integers >= 1 separated by commas, got '1,,8'");
    assert.deepEqual(numberListFlag('--gaps', '0,50', { min: 0 }), [0, 50]);
    rejects(
      () => numberListFlag('--gaps', '-1', { min: 0 }),
      "--gaps expects numbers >= 0 separated by commas, got '-1'",
    );
    assert.equal(enumFlag('-t', 'tcp', ['unix', 'tcp']), 'tcp');
    rejects(() => enumFlag('-t', 'udp', ['unix', 'tcp']), "-t expects one of unix, tcp, got 'udp'");
    assert.deepEqual(enumListFlag('--codecs', 'tftensor,flatbuffers', ['tftensor', 'flatbuffers']), [
      'tftensor',
      'flatbuffers',
    ]);
    rejects(
      () => enumListFlag('--codecs', 'tftensor,protobuf', ['tftensor', 'flatbuffers']),
      "--codecs expects a comma-separated list of tftensor, flatbuffers (unknown: 'protobuf'), got 'tftensor,protobuf'",
    );
    rejects(
      () => enumListFlag('--codecs', 'tftensor,tftensor', ['tftensor']),
      "--codecs expects each of tftensor at most once, got 'tftensor,tftensor'",
    );
  });
});

/** Runs the real CLI; bad flags must fail before anything starts, so each run is quick. */
function cli(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('CLI: a bad flag is a configuration error (exit 2) naming the flag and the value', () => {
  const graph = path.join(REPO, 'graphs/test-ensemble.yaml');
  const cases: [string[], RegExp][] = [
    [
      ['predict', '--addr', '127.0.0.1:1', '--image', 'x.jpg', '--repeat', '0'],
      /--repeat expects an integer >= 1, got '0'/,
    ],
    [
      ['predict', '--addr', '127.0.0.1:1', '--image', 'x.jpg', '--timeout', 'soon'],
      /--timeout expects an integer >= 1, got 'soon'/,
    ],
    [['predict', '--addr', '127.0.0.1:1'], /give exactly one of --image or --tensor/],
    [
      ['bench', '--graph', graph, '-c', '1,zero'],
      /--concurrency expects integers from 1 to 4096 separated by commas, got '1,zero'/,
    ],
    [['bench', '--graph', graph, '-d', '0'], /--duration expects a number > 0 and <= 86400, got '0'/],
    [
      ['bench', 'hop', '--codecs', 'tftensor,protobuf'],
      /--codecs expects a comma-separated list of tftensor, tensor, ndarray, flatbuffers \(unknown: 'protobuf'\)/,
    ],
    [['up', graph, '--port', '70000'], /--port expects an integer from 0 to 65535, got '70000'/],
    [['up', graph, '--transport', 'udp'], /--transport expects one of unix, tcp, got 'udp'/],
    [
      ['eval', '--addr', '127.0.0.1:1', '--images', '.', '--labels', 'x', '-c', '-1'],
      /--concurrency expects an integer from 1 to 1024, got '-1'/,
    ],
    [['models', 'generate', '--seed=abc'], /--seed expects an integer from 0 to 4294967295, got 'abc'/],
    [
      ['node', '--graph', graph, '--node', 'nope'],
      /--node nope: no such node in .*test-ensemble\.yaml \(nodes: top1, preprocess, ensemble, model-a, model-b\)/,
    ],
    [['validate', graph, '--bogus'], /unknown option '--bogus'/],
  ];
  for (const [args, message] of cases) {
    it(args.join(' ').replace(REPO, '.'), () => {
      const r = cli(...args);
      assert.equal(r.status, 2, `exit ${r.status}: ${r.stderr}`);
      assert.match(r.stderr, message);
    });
  }
});

describe('flags that override the manifest', () => {
  const file = path.join(REPO, 'graphs/test-ensemble.yaml');

  it('are applied to the spec once, where the command loads it; the rest reads the spec', () => {
    const plain = loadSpec(file, {});
    assert.equal(plain.hopTransport, 'frames');
    assert.equal(plain.reflection, true);
    assert.equal(plain.metrics?.enabled, true);
    assert.ok(walkNodes(plain.graph).every((n) => hopsOverFrames(plain, n)));

    const g = loadSpec(file, { hopTransport: 'grpc', reflection: false, metrics: false });
    assert.equal(g.hopTransport, 'grpc');
    assert.equal(g.reflection, false);
    assert.deepEqual(g.metrics, { ...plain.metrics, enabled: false });
    assert.ok(walkNodes(g.graph).every((n) => !hopsOverFrames(g, n)));
    // commander's defaults (reflection and metrics true when not negated) change nothing.
    assert.deepEqual(loadSpec(file, { reflection: true, metrics: true }), plain);
  });

  it('a bad value is named with its flag', () => {
    rejects(() => loadSpec(file, { hopTransport: 'udp' }), "--hop-transport expects one of grpc, frames, got 'udp'");
  });
});
