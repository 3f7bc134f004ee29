// The boundaries the README states: the core (tensor, message, hop, graph with the walk, components, errors) reaches
// neither gRPC, protobuf nor the wire message types — directly or through anything it imports; and no two folders
// of src/ import each other, even through others (madge checks files only).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { describeCycle, folderCycles, resolveLocal, specifiers, tsFiles } from '../helpers/folder-cycles';
import { REPO } from '../helpers/graph-process';

const SRC = path.join(REPO, 'src');
const CORE = ['tensor', 'message', 'hop', 'graph', 'components', 'errors.ts'].map((p) => path.join(SRC, p));
const FORBIDDEN_PACKAGE = /^(@grpc\/|protobufjs(\/|$))/;
const WIRE_TYPES = path.join(SRC, 'protocol/seldon/wire-types.ts');

/** Every forbidden dependency reachable from `start`, with the import chain that reaches it. */
function forbiddenReach(start: string[]): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const queue: { file: string; chain: string[] }[] = start.map((f) => ({ file: f, chain: [] }));
  while (queue.length) {
    const { file, chain } = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const here = [...chain, path.relative(REPO, file)];
    if (file === WIRE_TYPES) found.push(here.join(' -> '));
    for (const spec of specifiers(file)) {
      if (spec.startsWith('.')) {
        const next = resolveLocal(file, spec);
        if (next) queue.push({ file: next, chain: here });
      } else if (FORBIDDEN_PACKAGE.test(spec)) {
        found.push([...here, spec].join(' -> '));
      }
    }
  }
  return found;
}

describe('import boundaries', () => {
  it('the core reaches neither gRPC, protobufjs nor the wire message types', () => {
    const start = CORE.flatMap(tsFiles);
    assert.ok(start.length >= 20, `expected the core's files, found ${start.length}`);
    assert.deepEqual(forbiddenReach(start), []);
  });

  it('the check sees through imports: the executor process does reach gRPC and the wire types', () => {
    const found = forbiddenReach([path.join(SRC, 'executor/executor-server.ts')]);
    assert.ok(
      found.some((c) => c.endsWith('@grpc/grpc-js')),
      found.join('\n'),
    );
    assert.ok(
      found.some((c) => c.endsWith('src/protocol/seldon/wire-types.ts')),
      found.join('\n'),
    );
  });
});

describe('folder cycles', () => {
  it('src/ has none', () => {
    assert.deepEqual(folderCycles(SRC).map(describeCycle), []);
  });

  it('the check finds a cycle through three folders and names the imports that close it', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'folder-cycles-'));
    try {
      const file = (rel: string, code: string): void => {
        mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        writeFileSync(path.join(root, rel), code);
      };
      file('a/one.ts', "import { b } from '../b/two';\nexport const a = b;\n");
      // A subfolder belongs to its top-level folder; a type-only import counts.
      file('b/deep/two.ts', "import type { C } from '../../c';\nexport const b: C = 1;\n");
      file('b/two.ts', "export { b } from './deep/two';\n");
      file('c/index.ts', "import { a } from '../a/one';\nexport type C = typeof a;\n");
      // No cycle: d imports a, nothing imports d; a file importing its own folder is no edge.
      file('d/x.ts', "import { a } from '../a/one';\nimport './y';\nexport const d = a;\n");
      file('d/y.ts', 'export {};\n');
      const cycles = folderCycles(root);
      assert.deepEqual(
        cycles.map((c) => c.folders),
        [['a', 'b', 'c', 'a']],
      );
      assert.deepEqual(cycles[0]?.imports, [
        `a${path.sep}one.ts -> b${path.sep}two.ts`,
        `b${path.sep}deep${path.sep}two.ts -> c${path.sep}index.ts`,
        `c${path.sep}index.ts -> a${path.sep}one.ts`,
      ]);
      // Removing the closing import removes the cycle.
      file('c/index.ts', 'export type C = number;\n');
      assert.deepEqual(folderCycles(root), []);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
