import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { pythonPipelineOf } from '../../src/bench/python-target';
import type { BenchReport } from '../../src/bench/run';
import { loadManifestFile } from '../../src/graph/manifest';
import { CLI, REPO, SHARED } from '../helpers/graph-process';

/**
 * The single-process Python pipeline as a bench arm (`bench --python`, issue 23). The arm needs a Python with
 * onnxruntime, Pillow and numpy (INFERGRAPH_TEST_PYTHON, else python3 if it has them); without one the run is
 * skipped and said so. The check is that the Python pipeline computes what the graph computes (the same top-1 on the
 * real MobileNetV2 graph), not how fast.
 */

const run = promisify(execFile);

function pythonWithOnnxruntime(): string | undefined {
  for (const py of [process.env.INFERGRAPH_TEST_PYTHON, 'python3']) {
    if (!py) continue;
    try {
      execFileSync(py, ['-c', 'import onnxruntime, PIL, numpy'], { stdio: 'ignore', timeout: 30_000 });
      return py;
    } catch {
      /* next */
    }
  }
  return undefined;
}

describe('bench --python', () => {
  it('builds the pipeline from the ImageNet ensemble manifest and refuses graphs it cannot run', () => {
    const g = loadManifestFile(path.join(REPO, 'graphs/imagenet-ensemble.yaml'));
    const p = pythonPipelineOf(g);
    assert.deepEqual(
      p.models.map((m) => path.basename(m)),
      ['resnet50.onnx', 'densenet169.onnx'],
    );
    assert.deepEqual([p.resize, p.crop, p.topK], [256, 224, 5]);
    const test = loadManifestFile(path.join(REPO, 'graphs/test-ensemble.yaml'));
    assert.throws(() => pythonPipelineOf(test), /--python: graph 'test-ensemble' has 0 jpeg-input nodes/);
  });

  const python = pythonWithOnnxruntime();
  const mobilenet = path.join(SHARED, 'models/mobilenetv2-12-int8.onnx');
  const tench = path.join(SHARED, 'imagenet/dev/n01440764_tench.JPEG');
  const skip = !python
    ? 'no Python with onnxruntime, pillow and numpy (set INFERGRAPH_TEST_PYTHON)'
    : !existsSync(mobilenet) || !existsSync(tench)
      ? `${SHARED} has no MobileNetV2 model or dev images`
      : false;

  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-bench-python-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the Python pipeline as an arm: same top-1 as the graph, levels and ratios reported', { skip }, async () => {
    const out = path.join(dir, 'mobilenet');
    const { stdout } = await run(
      process.execPath,
      [
        CLI,
        'bench',
        '--graph',
        path.join(REPO, 'graphs/imagenet-mobilenet.yaml'),
        '--image',
        tench,
        '--python',
        python as string,
        '--duration',
        '1',
        '--concurrency',
        '1,2',
        '--warmup',
        '0.5',
        '--warmup-max',
        '0',
        '--out',
        out,
        '--no-progress',
      ],
      { timeout: 240_000 },
    );
    assert.match(stdout, /\| python \| 1 \|/);
    const r = JSON.parse(readFileSync(path.join(out, 'bench-report.json'), 'utf8')) as BenchReport;
    assert.deepEqual(
      r.python?.levels.map((l) => l.concurrency),
      [1, 2],
    );
    for (const l of r.python?.levels ?? []) assert.equal(l.errors, 0, l.errorExamples.join('; '));
    assert.match(r.python?.versions ?? '', /onnxruntime \d/);
    // The graph answers top-1 "tench" (index 0); the Python pipeline's first answer has the same index.
    assert.match(r.answer ?? '', /\(index 0,/);
    assert.match(r.python?.note ?? '', /top-1 class 0 \(index 0,/);
    const names = r.targets.map((t) => t.name);
    assert.ok(names.includes('c=1 mean, graph / python') && names.includes('c=2 req/s, graph / python'), names.join());
  });
});
