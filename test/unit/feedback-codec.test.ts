import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, InferError } from '../../src/errors';
import type { FeedbackMessage } from '../../src/message/feedback';
import { emptyMeta } from '../../src/message/message';
import { flatOnHop, hopServerWire, hopWire } from '../../src/protocol/hop-codec';
import {
  feedbackFromJson,
  feedbackFromWire,
  feedbackToJson,
  type WireFeedback,
} from '../../src/protocol/seldon/feedback';
import { fromNumbers, toNumbers } from '../../src/tensor/tensor';

/** Seldon's Feedback on the hop wire (every codec) and in JSON. */

const fb: FeedbackMessage = {
  request: { meta: emptyMeta(), payload: { kind: 'tensor', tensor: fromNumbers('float32', [2, 1], [1, 2]) } },
  response: { meta: { ...emptyMeta('p-9'), routing: { r: 1 } }, payload: { kind: 'str', data: 'yes' } },
  reward: 0.5,
  truth: { meta: emptyMeta(), payload: { kind: 'json', data: { label: 3 } } },
};

describe('Feedback codec', () => {
  for (const codec of ['tftensor', 'tensor', 'ndarray', 'flatbuffers'] as const) {
    it(`${codec} graph: sendFeedback goes as Seldon protobuf to Generic/SendFeedback and decodes on the node`, () => {
      const wire = hopWire(codec, 'sendFeedback');
      assert.equal(wire.path, '/seldon.protos.Generic/SendFeedback');
      assert.equal(flatOnHop(codec, 'sendFeedback'), false);
      const bytes = Buffer.concat(wire.serializeParts(wire.encode(fb)));
      const back = feedbackFromWire(hopServerWire(false, 'sendFeedback').deserialize(bytes) as WireFeedback);
      assert.equal(back.reward, 0.5);
      assert.deepEqual(back.response?.meta.routing, { r: 1 });
      assert.equal(back.response?.meta.puid, 'p-9');
      const req = back.request?.payload;
      assert.ok(req?.kind === 'tensor');
      assert.deepEqual(toNumbers(req.tensor), [1, 2]);
      assert.deepEqual(back.truth?.payload, { kind: 'json', data: { label: 3 } });
    });
  }

  it('JSON round trip; absent messages stay absent; bad fields are INVALID_ARGUMENT naming the field', () => {
    const back = feedbackFromJson(JSON.parse(JSON.stringify(feedbackToJson(fb, 'ndarray'))));
    assert.equal(back.reward, 0.5);
    assert.deepEqual(back.response?.meta.routing, { r: 1 });
    const only = feedbackFromJson({ reward: '1' });
    assert.equal(only.reward, 1);
    assert.equal(only.response, undefined);
    for (const [body, re] of [
      [[], /the body must be a JSON object \(a Feedback/],
      [{ reward: 'x' }, /reward: "x" is not a number/],
      [{ truth: { strData: 1 } }, /feedback truth: strData: expected a string/],
    ] as const) {
      assert.throws(
        () => feedbackFromJson(body),
        (e: unknown) => e instanceof InferError && e.code === Code.INVALID_ARGUMENT && re.test(e.message),
      );
    }
  });
});
