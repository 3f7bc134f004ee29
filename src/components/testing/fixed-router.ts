import { defineComponent } from '../api';
import { Params } from '../builtin/common';

/** Always routes to `route` (-1 all children, -2 none, N child N), or to the request tag `route` when present. */
const definition = defineComponent({
  name: 'fixed-router',
  description: "routes every request to child `route` (-1 = all, -2 = none); a numeric request tag 'route' overrides",
  types: ['ROUTER'],
  parameters: {
    route: { type: 'integer', default: -1, description: 'child index, -1 for all children, -2 for none' },
  },
  create(params) {
    const route = new Params('fixed-router', params, definition.parameters).integer('route', -2);
    return {
      route: (_input, call) => {
        const tag = call.meta.tags.route;
        return typeof tag === 'number' ? tag : route;
      },
    };
  },
});

export default definition;
