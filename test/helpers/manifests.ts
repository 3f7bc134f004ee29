import { readdirSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './graph-process';

/** Every manifest the project ships: graphs/, graphs/examples/ and k8s/examples/. */
export const manifestFiles = (): string[] =>
  ['graphs', 'graphs/examples', 'k8s/examples'].flatMap((d) =>
    readdirSync(path.join(REPO, d))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => path.join(REPO, d, f)),
  );
