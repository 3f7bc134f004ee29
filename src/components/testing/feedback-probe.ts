import { defineComponent } from '../api';
import { CATALOG } from './catalog';

/**
 * A MODEL that returns its input and takes feedback: each feedback adds the tag
 * {feedback.<node>: {count, rewardSum, routing, truth, puid}} to the feedback's reply, so a test sees which nodes a
 * feedback reached and what each was given. Predictions carry the same tag (the totals so far).
 */
const definition = defineComponent({
  ...CATALOG['feedback-probe'],
  create(_params, ctx) {
    let count = 0;
    let rewardSum = 0;
    const tag = `feedback.${ctx.nodeName}`;
    return {
      predict: (input, call) => {
        call.addTags({ [tag]: { count, rewardSum } });
        return input;
      },
      sendFeedback: (fb, call) => {
        count++;
        rewardSum += fb.reward;
        call.addTags({
          [tag]: { count, rewardSum, routing: fb.routing ?? null, truth: fb.truth?.kind ?? null, puid: call.meta.puid },
        });
      },
    };
  },
});

export default definition;
