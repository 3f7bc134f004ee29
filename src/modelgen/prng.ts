// The seeded PRNG moved to src/util/prng.ts: the built-in bandit routers (src/components/builtin) draw from it too,
// and components may not import modelgen (modelgen reads the component catalogue). Re-exported for its old users.
export { isSeed, Prng } from '../util/prng';
