// The boundary the README states: the core (tensor, message, graph with the walk, components, errors) reaches
// neither gRPC, protobuf nor the wire message types — directly or through anything it imports.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from '../helpers/graph-process';

const SRC = path.join(REPO, 'src');
const CORE = ['tensor', 'message', 'graph', 'components', 'errors.ts'].map((p) => path.join(SRC, p));
const FORBIDDEN_PACKAGE = /^(@grpc\/|protobufjs(\/|$))/;
const WIRE_TYPES = path.join(SRC, 'protocol/wire-types.ts');

const tsFiles = (p: string): string[] =>
  statSync(p).isDirectory() ? readdirSync(p).flatMap((f) => tsFiles(path.join(p, f))) : p.endsWith('.ts') ? [p] : [];

/** Module specifiers of `import … from`, `export … from`, `import '…'`, `require('…')` and `import('…')`. */
function specifiers(file: string): string[] {
  const code = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  return [...code.matchAll(/(?:\bfrom\s+|\bimport\s+|\brequire\(\s*|\bimport\(\s*)['"]([^'"]+)['"]/g)].map(
    (m) => m[1]!,
  );
}

function resolveLocal(from: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(from), spec);
  return [`${base}.ts`, path.join(base, 'index.ts'), base].find((f) => existsSync(f) && statSync(f).isFile());
}

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
      found.some((c) => c.endsWith('src/protocol/wire-types.ts')),
      found.join('\n'),
    );
  });
});
