import { defineComponent } from '../api';
import { Params } from '../builtin/common';
import { CATALOG } from './catalog';

/** Always routes to `route` (-1 all children, -2 none, N child N), or to the request tag `route` when present. */
const definition = defineComponent({
  ...CATALOG['fixed-router'],
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
