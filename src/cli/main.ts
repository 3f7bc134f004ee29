#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ConfigError, codeName, isInferError } from '../errors';
import { registerBench } from './commands/bench';
import { registerComponents } from './commands/components';
import { registerConvert } from './commands/convert';
import { registerCrd } from './commands/crd';
import { registerEval } from './commands/eval';
import { registerModels } from './commands/models';
import { registerOperator } from './commands/operator';
import { registerPredict } from './commands/predict';
import { registerRender } from './commands/render';
import { registerServe } from './commands/serve';
import { registerUp } from './commands/up';
import { registerValidate } from './commands/validate';

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
registerUp(program);
registerServe(program);
registerPredict(program);
registerValidate(program);
registerModels(program);
registerEval(program);
registerComponents(program);
registerBench(program);
registerRender(program);
registerConvert(program);
registerCrd(program);
registerOperator(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  // Commander has printed its message (or the help/version text, exit code 0).
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  if (err instanceof ConfigError) console.error(`infergraph: invalid configuration\n  ${err.message}`);
  else if (isInferError(err)) console.error(`infergraph: ${codeName(err.code)}: ${err.message}`);
  else console.error(`infergraph: ${(err as Error).message ?? String(err)}`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
