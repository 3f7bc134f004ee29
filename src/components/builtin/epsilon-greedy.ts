import { defineComponent } from '../api';
import { EpsilonGreedy } from './bandit-policy';
import { banditRouter } from './bandit-router';
import { CATALOG } from './catalog';

/** Seldon's epsilon-greedy router as a built-in: learns the best child from feedback rewards. */
const definition = defineComponent({
  ...CATALOG['epsilon-greedy'],
  create(params, ctx) {
    return banditRouter({
      name: 'epsilon-greedy',
      params,
      schema: definition.parameters,
      ctx,
      make: (p, n, rng) =>
        new EpsilonGreedy(
          n,
          p.number('epsilon', 0, 1),
          rng,
          p.has('best_branch') ? p.integer('best_branch', 0, n - 1) : undefined,
        ),
    });
  },
});

export default definition;
