import { readdirSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './graph-process';

/** Every manifest the project ships: graphs/, graphs/examples/, k8s/examples/ and the bench's variants. */
export const manifestFiles = (): string[] =>
  ['graphs', 'graphs/examples', 'k8s/examples', 'bench/graphs'].flatMap((d) =>
    readdirSync(path.join(REPO, d))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => path.join(REPO, d, f)),
  );
