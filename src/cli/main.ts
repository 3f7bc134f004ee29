#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError, codeName, isInferError } from '../errors';
import { startupMark } from '../util/startup-marks';

startupMark('cli');

/**
 * Each command's module, loaded when needed: a graph's own processes (`node`, `executor`) load only theirs, so a
 * restart after a crash does not pay for the bench, the model generator or the operator (about 0.25 s of require
 * time on a loaded 2-core machine, bench/restart-time.ts).
 */
const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  up: async () => (await import('./commands/up')).registerUp,
  serve: async () => (await import('./commands/serve')).registerServe,
  predict: async () => (await import('./commands/predict')).registerPredict,
  validate: async () => (await import('./commands/validate')).registerValidate,
  models: async () => (await import('./commands/models')).registerModels,
  eval: async () => (await import('./commands/eval')).registerEval,
  components: async () => (await import('./commands/components')).registerComponents,
  bench: async () => (await import('./commands/bench')).registerBench,
  render: async () => (await import('./commands/render')).registerRender,
  convert: async () => (await import('./commands/convert')).registerConvert,
  crd: async () => (await import('./commands/crd')).registerCrd,
  operator: async () => (await import('./commands/operator')).registerOperator,
};
/** `serve` registers both long-running commands. */
const SERVED = new Set(['node', 'executor']);

/**
 * As PID 1 (the container image's ENTRYPOINT) the kernel gives SIGTERM/SIGINT no default action, so `docker stop` or
 * Ctrl-C would hang a short command (predict, eval, bench) until SIGKILL. Exit on them unless a command installed its
 * own handler (node, executor and up drain first).
 */
if (process.pid === 1) {
  for (const [sig, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    process.on(sig, () => {
      if (process.listenerCount(sig) === 1) process.exit(code);
    });
  }
}

/** The `infergraph` command line. Each command lives in src/cli/commands. */
const program = new Command();
program
  .name('infergraph')
  .description('Seldon-style inference graphs: one process per node, gRPC with typed tensors')
  .version('0.1.0');
// Commander's own usage errors (unknown option, missing argument) throw instead of exiting, so they exit 2 below as
// every other configuration problem does; set before the commands so each inherits it.
program.exitOverride();

async function main(): Promise<void> {
  const first = process.argv[2] ?? '';
  const names = SERVED.has(first) ? ['serve'] : Object.keys(COMMANDS);
  for (const name of names) (await (COMMANDS[name] as () => Promise<(p: Command) => void>)())(program);
  await program.parseAsync(process.argv);
}

main().catch((err: unknown) => {
  // Commander has printed its message (or the help/version text, exit code 0).
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  if (err instanceof ConfigError) console.error(`infergraph: invalid configuration\n  ${err.message}`);
  else if (isInferError(err)) console.error(`infergraph: ${codeName(err.code)}: ${err.message}`);
  else console.error(`infergraph: ${(err as Error).message ?? String(err)}`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
