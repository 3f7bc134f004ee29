import assert from 'node:assert/strict';
import type { Meta } from '../../src/message/message';

/**
 * graphs/test-ensemble.yaml's answer meta, whichever way the graph ran (real processes or in one process): every node
 * in requestPath, and the COUNTER each `scale` node adds, merged through the combiner's branches.
 */
export function assertTestEnsembleMeta(meta: Meta): void {
  assert.deepEqual(Object.keys(meta.requestPath).sort(), ['ensemble', 'model-a', 'model-b', 'preprocess', 'top1']);
  assert.deepEqual(meta.metrics.map((m) => m.key).sort(), [
    'model-a_calls',
    'model-b_calls',
    'preprocess_calls',
    'top1_calls',
  ]);
}
