#!/usr/bin/env node
import { Command } from 'commander';
import { ConfigError, InferError, codeName } from '../errors';
import { registerBench } from './commands/bench';
import { registerComponents } from './commands/components';
import { registerEval } from './commands/eval';
import { registerModels } from './commands/models';
import { registerPredict } from './commands/predict';
import { registerServe } from './commands/serve';
import { registerUp } from './commands/up';
import { registerValidate } from './commands/validate';

/**
 * As PID 1 (the container image's ENTRYPOINT) the kernel gives SIGTERM/SIGINT no default action, so `docker stop` or
 * Ctrl-C would hang a short command (predict, eval, bench) until SIGKILL. Exit on them unless a command installed its
 * own handler (node, executor and up drain first).
 */
if (process.pid === 1) {
  for (const [sig, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    process.on(sig, () => {
      if (process.listenerCount(sig) === 1) process.exit(code);
    });
  }
}

/** The `infergraph` command line. Each command lives in src/cli/commands. */
const program = new Command();
program.name('infergraph').description('Seldon-style inference graphs: one process per node, gRPC with typed tensors').version('0.1.0');
registerUp(program);
registerServe(program);
registerPredict(program);
registerValidate(program);
registerModels(program);
registerEval(program);
registerComponents(program);
registerBench(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`infergraph: invalid configuration\n  ${err.message}`);
  else if (err instanceof InferError) console.error(`infergraph: ${codeName(err.code)}: ${err.message}`);
  else console.error(`infergraph: ${(err as Error).message ?? String(err)}`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
