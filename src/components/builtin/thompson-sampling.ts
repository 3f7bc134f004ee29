import { defineComponent } from '../api';
import { ThompsonSampling } from './bandit-policy';
import { banditRouter } from './bandit-router';
import { CATALOG } from './catalog';

/** Seldon's Thompson-sampling router (Beta-Bernoulli) as a built-in: learns the best child from feedback rewards. */
const definition = defineComponent({
  ...CATALOG['thompson-sampling'],
  create(params, ctx) {
    return banditRouter({
      name: 'thompson-sampling',
      params,
      schema: definition.parameters,
      ctx,
      make: (p, n, rng) =>
        new ThompsonSampling(n, p.number('alpha', Number.MIN_VALUE), p.number('beta', Number.MIN_VALUE), rng),
    });
  },
});

export default definition;
