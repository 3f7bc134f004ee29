import { existsSync } from 'node:fs';
import path from 'node:path';

let root: string | undefined;

/** The installed project's root (where package.json and protos/ live), found from this file's location. */
export function projectRoot(): string {
  if (root) return root;
  let dir = __dirname;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'protos'))) return (root = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the infergraph project root above ${__dirname}`);
    dir = up;
  }
}

export const protosDir = (): string => path.join(projectRoot(), 'protos');
