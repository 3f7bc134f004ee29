import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CollectingCallContext } from '../../src/components/call-context';
import { loadComponentDefinition } from '../../src/components/registry';
import { loadManifestFile } from '../../src/graph/manifest';
import { fromNumbers, toNumbers } from '../../src/tensor/tensor';
import { createLogger } from '../../src/util/logger';
import { REPO } from '../helpers/graph-process';

describe('user component example (graphs/examples)', () => {
  it('the manifest resolves the module against its folder and the component clips', async () => {
    const g = loadManifestFile(path.join(REPO, 'graphs/examples/user-component.yaml'));
    assert.equal(g.graph.implementation, path.join(REPO, 'dist/graphs/examples/clip-component.js'));
    assert.deepEqual(g.graph.parameters, { min: 0, max: 10 });
    const def = loadComponentDefinition(g.graph.implementation);
    const c = await def.create(g.graph.parameters, {
      nodeName: 'clip',
      nodeType: 'OUTPUT_TRANSFORMER',
      baseDir: g.baseDir,
      logger: createLogger('t', 'silent'),
    });
    const ctx = new CollectingCallContext();
    const out = await c.transformOutput?.(
      { kind: 'tensor', tensor: fromNumbers('float32', [4], [-1, 5, 11, 10]) },
      ctx,
    );
    assert.ok(out?.kind === 'tensor');
    assert.deepEqual(toNumbers(out.tensor), [0, 5, 10, 10]);
    assert.deepEqual(ctx.tags, { clip_clipped: 2 });
    await assert.rejects(
      Promise.resolve(c.transformOutput?.({ kind: 'str', data: 'x' }, ctx)),
      /expects a float32 tensor, got strData/,
    );
  });
});
