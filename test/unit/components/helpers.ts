/** Shared helpers for the built-in component tests (no tests of its own). */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import type { ComponentContext } from '../../../src/components/api';
import { CollectingCallContext } from '../../../src/components/call-context';
import { InferError, codeName } from '../../../src/errors';
import { emptyMeta, type JsonValue } from '../../../src/message/message';
import type { NodeType } from '../../../src/graph/spec';

/** The repository root: the nearest folder above this file holding package.json (works from src and dist). */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

/** A file under ../shared (next to the project root), or undefined when it is absent (a fresh clone). */
export function sharedFile(rel: string): string | undefined {
  const file = path.resolve(repoRoot(), '../shared', rel);
  return existsSync(file) ? file : undefined;
}

export const MOBILENET = 'models/mobilenetv2-12-int8.onnx';
export const LABELS = 'imagenet/labels.tsv';
export const DEV_DIR = 'imagenet/dev';

export function componentContext(nodeType: NodeType, nodeName = 'test'): ComponentContext {
  return { nodeName, nodeType, baseDir: repoRoot(), logger: pino({ level: 'silent' }) };
}

export function callContext(tags: Record<string, JsonValue> = {}): CollectingCallContext {
  return new CollectingCallContext({ ...emptyMeta('test-puid'), tags });
}

/** Asserts `fn` rejects with an InferError of `code` whose message matches every pattern. */
export async function rejectsWith(
  fn: () => Promise<unknown>,
  code: number,
  ...patterns: (RegExp | string)[]
): Promise<InferError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof InferError, `expected an InferError(${codeName(code)}), got ${String(caught)}`);
  assert.equal(caught.code, code, `expected ${codeName(code)}, got ${codeName(caught.code)}: ${caught.message}`);
  for (const p of patterns) {
    if (typeof p === 'string')
      assert.ok(caught.message.includes(p), `message ${JSON.stringify(caught.message)} lacks ${JSON.stringify(p)}`);
    else assert.match(caught.message, p);
  }
  return caught;
}

/** Asserts `fn` throws (or rejects with) a ConfigError whose message matches every pattern. */
export async function configError(fn: () => unknown, ...patterns: (RegExp | string)[]): Promise<void> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error && caught.name === 'ConfigError', `expected a ConfigError, got ${String(caught)}`);
  for (const p of patterns) {
    if (typeof p === 'string')
      assert.ok(caught.message.includes(p), `message ${JSON.stringify(caught.message)} lacks ${JSON.stringify(p)}`);
    else assert.match(caught.message, p);
  }
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
