import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/errors';
import { parseManifest } from '../../src/graph/manifest';
import { commandFor, ensureGraphModels, generatedModelsDir, missingFiles } from '../../src/modelgen/graph-models';
import { CLI } from '../helpers/graph-process';

/** Issue 22: a manifest whose model file does not exist is a validation problem, not a node dying at start-up. */

const manifest = (model: string, labels: string, extra = ''): string => `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: files}
spec:
  graph:
    name: top1
    type: OUTPUT_TRANSFORMER
    implementation: top1-output
    parameters: {labels: ${labels}}
    children:
      - name: densenet169
        type: MODEL
        implementation: onnx-model
        parameters: {model: ${model}}
${extra}`;

describe('missing files named by validate, up and bench (issue 22)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'infergraph-files-'));
    writeFileSync(path.join(dir, 'labels.tsv'), '0\tn0\tzero\n');
    writeFileSync(path.join(dir, 'model.onnx'), 'not loaded by validate');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const validate = (text: string, name = 'g.yaml') => {
    writeFileSync(path.join(dir, name), text);
    return spawnSync(process.execPath, [CLI, 'validate', path.join(dir, name)], { encoding: 'utf8' });
  };

  it('validate exits non-zero naming the node path, the parameter and the resolved file', () => {
    const r = validate(manifest('models/densenet169.onnx', 'labels.tsv'));
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.equal(
      r.stderr,
      `infergraph: invalid configuration\n  ${path.join(dir, 'g.yaml')}: spec.graph.children[0] (densenet169).parameters.model: ` +
        `file ${path.join(dir, 'models/densenet169.onnx')} does not exist\n`,
    );
  });

  it('a labels file too (any parameter the catalogue declares as a path), every problem at once', () => {
    const r = validate(manifest('nope.onnx', 'gone/labels.tsv'));
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      new RegExp(`spec.graph \\(top1\\).parameters.labels: file ${dir}/gone/labels.tsv does not exist`),
    );
    assert.match(r.stderr, new RegExp(`\\(densenet169\\).parameters.model: file ${dir}/nope.onnx does not exist`));
  });

  it('the files present: validate says yes, and never loads a user module', () => {
    const marker = path.join(dir, 'loaded');
    writeFileSync(path.join(dir, 'user.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x');`);
    const extra = `      - {name: mine, type: MODEL, implementation: ./user.js, parameters: {model: nowhere.onnx}}\n`;
    const r = validate(manifest('model.onnx', 'labels.tsv', extra));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /densenet169 MODEL onnx-model/);
    assert.equal(existsSync(marker), false, 'validate ran the user module');
  });

  it('up refuses the same manifest before starting anything, with the same message', () => {
    writeFileSync(path.join(dir, 'up.yaml'), manifest('models/densenet169.onnx', 'labels.tsv'));
    const r = spawnSync(process.execPath, [CLI, 'up', path.join(dir, 'up.yaml'), '--port', '0'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /\(densenet169\)\.parameters\.model: file .*models\/densenet169\.onnx does not exist/);
    assert.doesNotMatch(r.stdout + r.stderr, /exited during start-up/);
  });

  it('bench: a missing example model is generated (as npm start does); other files are named with the command', async () => {
    const gen = path.join(dir, 'generated');
    mkdirSync(gen);
    const graphOf = (model: string) => parseManifest(manifest(model, 'labels.tsv'), dir);
    assert.deepEqual(
      missingFiles(graphOf(path.join(gen, 'densenet169.onnx'))).map((m) => m.where),
      ['spec.graph.children[0] (densenet169).parameters.model'],
    );
    // The synthetic fp32 models: made, then the graph starts.
    const made: string[] = [];
    const lines: string[] = [];
    await ensureGraphModels(graphOf(path.join(gen, 'densenet169.onnx')), (l) => lines.push(l), {
      dir: gen,
      generate: (d) => {
        made.push(d);
        writeFileSync(path.join(d, 'densenet169.onnx'), 'generated');
        return Promise.resolve();
      },
    });
    assert.deepEqual(made, [gen]);
    assert.match(lines.join('\n'), /generating the example models/);
    // The int8 ones take a calibration run: named with their command, not made.
    const never = (): Promise<void> => Promise.reject(new Error('must not generate'));
    await assert.rejects(
      ensureGraphModels(graphOf(path.join(gen, 'resnet50-int8.onnx')), () => undefined, { dir: gen, generate: never }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 1 &&
        err.problems[0] ===
          `spec.graph.children[0] (densenet169).parameters.model: file ${gen}/resnet50-int8.onnx does not exist; ` +
            '`infergraph models generate --int8` makes it',
    );
    // Anything else: the file, no command.
    await assert.rejects(
      ensureGraphModels(graphOf(path.join(dir, 'mine.onnx')), () => undefined, { dir: gen, generate: never }),
      /parameters\.model: file .*mine\.onnx does not exist$/,
    );
    assert.equal(commandFor(path.join(generatedModelsDir(), 'resnet50.onnx')), 'infergraph models generate');
    assert.equal(commandFor(path.join(dir, 'resnet50.onnx')), undefined);
  });
});
