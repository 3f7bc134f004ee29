import { defineComponent } from '../api';
import { CATALOG } from './catalog';

/** Always routes to `route` (-1 all children, -2 none, N child N), or to the request tag `route` when present. */
export default defineComponent({
  ...CATALOG['fixed-router'],
  create(params) {
    const route = params.route as number;
    return {
      route: (_input, call) => {
        const tag = call.meta.tags.route;
        return typeof tag === 'number' ? tag : route;
      },
    };
  },
});
