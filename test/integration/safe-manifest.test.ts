import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { loadManifestFile } from '../../src/graph/manifest';
import { findNode } from '../../src/graph/spec';
import { loadNodeComponent } from '../../src/node/component-loader';
import { CLI } from '../helpers/graph-process';
import { listServices } from '../helpers/reflection';

/** Issue 11: user modules run only where they are served; loopback by default; reflection can be switched off. */

/** A user component module that records, in a file, that its code ran. */
const moduleText = (marker: string): string => `
require('node:fs').appendFileSync(${JSON.stringify(marker)}, 'loaded\\n');
module.exports = {
  name: 'user', description: 'test', types: ['MODEL'], parameters: {},
  create() { return { predict: (x) => x }; },
};
`;

describe('safe manifests (issue 11)', () => {
  let dir: string;
  let manifest: string;
  const marker = (n: string): string => path.join(dir, `${n}.loaded`);
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-safe-'));
    writeFileSync(path.join(dir, 'a.js'), moduleText(path.join(dir, 'a.loaded')));
    writeFileSync(path.join(dir, 'b.js'), moduleText(path.join(dir, 'b.loaded')));
    manifest = path.join(dir, 'g.yaml');
    writeFileSync(
      manifest,
      `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: safe}
spec:
  graph:
    name: sum
    type: COMBINER
    implementation: sum-combiner
    children:
      - {name: a, type: MODEL, implementation: ./a.js}
      - {name: b, type: MODEL, implementation: ./b.js}
`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('validation loads no user module; a node process loads only its own', () => {
    const g = loadManifestFile(manifest);
    assert.equal(existsSync(marker('a')) || existsSync(marker('b')), false, 'validation ran a user module');
    loadNodeComponent(findNode(g, 'a')!, g.baseDir);
    assert.equal(existsSync(marker('a')), true);
    assert.equal(existsSync(marker('b')), false, "node a's process ran node b's module");
    rmSync(marker('a'));
  });

  it('a module that is not loaded must still exist', () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(manifest, 'utf8').replace('./b.js', './missing.js'));
    assert.throws(
      () => loadManifestFile(bad),
      /children\[1\] \(b\): cannot load component module .*missing\.js: no such file/,
    );
  });

  it('executor binds 127.0.0.1 by default, and --no-reflection switches reflection off', async () => {
    const proc = spawn(
      process.execPath,
      [CLI, 'executor', '--graph', manifest, '--port', '0', '--metrics-address', 'none', '--no-reflection'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const address = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('executor did not start')), 30_000);
        createInterface({ input: proc.stderr }).on('line', (l) => {
          const m = /"address":"([^"]+)"/.exec(l);
          if (m && /executor listening/.test(l)) {
            clearTimeout(t);
            resolve(m[1] as string);
          }
        });
      });
      assert.match(address, /^127\.0\.0\.1:\d+$/);
      await assert.rejects(listServices(address), /UNIMPLEMENTED|unimplemented|not implemented|12/i);
      assert.equal(existsSync(marker('a')) || existsSync(marker('b')), false, 'the executor process ran a user module');
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
  });
});
