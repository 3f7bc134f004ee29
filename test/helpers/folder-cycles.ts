/**
 * The folder graph of a source tree and its cycles. madge finds cycles between files; a cycle between folders (a
 * file of A imports B, a file of B imports A) passes it and still ties two concerns together. A folder is a
 * top-level entry of the root (src/graph, src/errors.ts): its subfolders belong to it. Type-only imports count: they
 * tie the concerns as much as value imports do.
 *
 *   node dist/test/helpers/folder-cycles.js src   (exit 1 naming each cycle with one import per edge)
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export const tsFiles = (p: string): string[] =>
  statSync(p).isDirectory()
    ? readdirSync(p)
        .sort()
        .flatMap((f) => tsFiles(path.join(p, f)))
    : p.endsWith('.ts') && !p.endsWith('.d.ts')
      ? [p]
      : [];

/** Module specifiers of `import … from`, `export … from`, `import '…'`, `require('…')` and `import('…')`. */
export function specifiers(file: string): string[] {
  const code = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  return [...code.matchAll(/(?:\bfrom\s+|\bimport\s+|\brequire\(\s*|\bimport\(\s*)['"]([^'"]+)['"]/g)].map(
    (m) => m[1]!,
  );
}

export function resolveLocal(from: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(from), spec);
  return [`${base}.ts`, path.join(base, 'index.ts'), base].find((f) => existsSync(f) && statSync(f).isFile());
}

/** folder → folder it imports → one import that makes the edge (`file -> file`, relative to the root). */
export type FolderGraph = Map<string, Map<string, string>>;

export function folderGraph(root: string): FolderGraph {
  const folderOf = (file: string): string => path.relative(root, file).split(path.sep)[0]!;
  const graph: FolderGraph = new Map();
  for (const file of tsFiles(root)) {
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const spec of specifiers(file)) {
      if (!spec.startsWith('.')) continue;
      const target = resolveLocal(file, spec);
      if (!target || path.relative(root, target).startsWith('..')) continue;
      const to = folderOf(target);
      if (to !== from && !edges.has(to)) {
        edges.set(to, `${path.relative(root, file)} -> ${path.relative(root, target)}`);
      }
    }
  }
  return graph;
}

/**
 * Every elementary cycle's folders, found once each (from its smallest folder, Tarjan's SCCs first so only folders
 * that share a strongly connected component are searched), with the imports that close it.
 */
export function folderCycles(root: string): { folders: string[]; imports: string[] }[] {
  const graph = folderGraph(root);
  const cycles: { folders: string[]; imports: string[] }[] = [];
  for (const scc of components(graph)) {
    if (scc.length < 2) continue;
    const inScc = new Set(scc);
    for (const start of [...scc].sort()) {
      const walk = (at: string, stack: string[]): void => {
        for (const next of [...(graph.get(at)?.keys() ?? [])].sort()) {
          if (!inScc.has(next) || next < start) continue;
          if (next === start) {
            const folders = [...stack, start];
            const imports = stack.map((f, i) => graph.get(f)!.get(folders[i + 1]!)!);
            cycles.push({ folders, imports });
          } else if (!stack.includes(next)) {
            walk(next, [...stack, next]);
          }
        }
      };
      walk(start, [start]);
    }
  }
  return cycles;
}

function components(graph: FolderGraph): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        scc.push(w);
      } while (w !== v);
      out.push(scc);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

export const describeCycle = (c: { folders: string[]; imports: string[] }): string =>
  `${c.folders.join(' -> ')}\n${c.imports.map((i) => `    ${i}`).join('\n')}`;

if (require.main === module) {
  const root = path.resolve(process.argv[2] ?? 'src');
  const cycles = folderCycles(root);
  if (cycles.length) {
    console.error(`${cycles.length} folder cycle(s) in ${path.relative(process.cwd(), root) || '.'}:`);
    for (const c of cycles) console.error(`  ${describeCycle(c)}`);
    process.exit(1);
  }
  console.log(`no folder cycles in ${path.relative(process.cwd(), root) || '.'}`);
}
