import { randomInt } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { invalidArgument } from '../../errors';
import type { Payload } from '../../message/message';
import { Prng } from '../../util/prng';
import type { Component, ComponentContext, FeedbackInput, ParamSchema } from '../api';
import type { ParamValue } from '../types';
import type { BanditPolicy } from './bandit-policy';
import { Params } from './common';

/**
 * What the two learning routers share: their common parameters, reading a feedback into successes and failures,
 * and the state snapshot. State lives in the router's process: each replica learns from the feedback it gets. A
 * snapshot file (stateFile) is read at start, written every snapshotMs while the state changes and on shutdown, so a
 * restarted router resumes where it was, and replicas that share a volume start from the same counts (they do not
 * merge while running: see docs/feedback.md for sticky routing).
 */

export interface BanditOptions {
  name: string;
  params: Record<string, ParamValue>;
  schema: Record<string, ParamSchema>;
  ctx: ComponentContext;
  make: (p: Params, nBranches: number, rng: Prng) => BanditPolicy;
}

/** Rows of a request: Seldon's features.shape[0] for a tensor; one for any other payload. */
export function rowsOf(p: Payload): number {
  return p.kind === 'tensor' && p.tensor.shape.length > 0 ? Math.max(1, p.tensor.shape[0] as number) : 1;
}

/** A reward r (0..1) on `rows` rows: round(r·rows) successes, the rest failures. */
export function outcomes(name: string, reward: number, rows: number): [successes: number, failures: number] {
  if (!(reward >= 0 && reward <= 1))
    throw invalidArgument(
      `${name}: reward ${reward} is outside 0..1 (the share of the request's rows that were right: Bernoulli rewards)`,
    );
  const s = Math.round(reward * rows);
  return [s, rows - s];
}

export function banditRouter(o: BanditOptions): Component {
  const p = new Params(o.name, o.params, o.schema);
  const nBranches = p.integer('n_branches', 1);
  const seed = p.has('seed') ? p.integer('seed', 0, 0xffffffff) : randomInt(0, 0xffffffff);
  const policy = o.make(p, nBranches, new Prng(seed));
  const verbose = p.boolean('verbose');
  const snapshotMs = p.integer('snapshotMs', 10);
  const stateFile = p.has('stateFile') ? path.resolve(o.ctx.baseDir, p.string('stateFile')) : undefined;
  const log = o.ctx.logger;
  let dirty = false;
  let timer: NodeJS.Timeout | undefined;

  const save = (): void => {
    if (!stateFile || !dirty) return;
    const tmp = `${stateFile}.${process.pid}.tmp`;
    const body = { algorithm: o.name, n_branches: nBranches, savedAt: new Date().toISOString(), ...policy.snapshot() };
    writeFileSync(tmp, JSON.stringify(body, null, 2) + '\n');
    renameSync(tmp, stateFile); // atomic: a reader never sees half a file
    dirty = false;
  };

  return {
    async load() {
      if (stateFile && existsSync(stateFile)) {
        let state: Record<string, unknown>;
        try {
          state = JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, unknown>;
          if (state.algorithm !== o.name || state.n_branches !== nBranches)
            throw new Error(
              `it holds ${String(state.algorithm)} with n_branches ${String(state.n_branches)}, this node is ${o.name} with ${nBranches}`,
            );
          policy.restore(state);
        } catch (err) {
          throw new Error(`${o.ctx.nodeName}: cannot resume from stateFile ${stateFile}: ${(err as Error).message}`);
        }
        log.info({ node: o.ctx.nodeName, stateFile, ...policy.counts() }, `${o.name}: state resumed`);
      }
      if (stateFile) {
        timer = setInterval(() => {
          try {
            save();
          } catch (err) {
            log.warn({ node: o.ctx.nodeName, err: (err as Error).message }, `${o.name}: snapshot not written`);
          }
        }, snapshotMs);
        timer.unref();
      }
    },
    route() {
      const branch = policy.route();
      if (verbose) log.info({ node: o.ctx.nodeName, branch }, `${o.name}: route`);
      return branch;
    },
    sendFeedback(fb: FeedbackInput) {
      const branch = fb.routing;
      if (branch === undefined || !Number.isInteger(branch) || branch < 0 || branch >= nBranches)
        throw invalidArgument(
          `${o.ctx.nodeName}: feedback for branch ${String(branch)}, but ${o.name} has n_branches ${nBranches} (valid: 0..${nBranches - 1})`,
        );
      const [successes, failures] = outcomes(o.ctx.nodeName, fb.reward, rowsOf(fb.request));
      policy.update(branch, successes, failures);
      dirty = true;
      if (verbose)
        log.info({ node: o.ctx.nodeName, branch, successes, failures, counts: policy.counts() }, `${o.name}: feedback`);
    },
    close() {
      clearInterval(timer);
      save();
    },
  };
}
