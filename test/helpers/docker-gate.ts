import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './graph-process';

/**
 * What the docker tests share: the opt-in gate (INFERGRAPH_DOCKER_TEST=1 and an engine, or root and dockerd to start
 * one), the client they use, and the image of the Seldon Python wrapper stand-in.
 */

/** $DOCKER, else Debian's engine client when installed (some machines carry a standalone CLI first on PATH). */
export const DOCKER_BIN = process.env.DOCKER ?? (existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker');

export const dockerRun = (args: string[]): { code: number; out: string; err: string } => {
  const r = spawnSync(DOCKER_BIN, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  return { code: r.status ?? -1, out: r.stdout ?? '', err: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
};

/** Why the docker tests cannot run here, or false. */
export function dockerSkipReason(): string | false {
  if (process.env.INFERGRAPH_DOCKER_TEST !== '1')
    return 'set INFERGRAPH_DOCKER_TEST=1 to build the image and run graphs in docker';
  if (dockerRun(['info']).code === 0) return false;
  // k8s/docker-lib.sh starts dockerd by hand when it can.
  const canStart =
    spawnSync('sh', ['-c', 'command -v dockerd'], { encoding: 'utf8' }).status === 0 && process.getuid?.() === 0;
  return canStart
    ? false
    : `no Docker engine answers '${DOCKER_BIN} info' and none can be started here (needs dockerd and root)`;
}

/** Starts dockerd the way k8s/build-image.sh does when none answers (`k8s/docker-run.sh --stop-dockerd` ends it). */
export function ensureDockerd(): void {
  const r = spawnSync('bash', ['-c', `. ${path.join(REPO, 'k8s/docker-lib.sh')} && ensure_dockerd`], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`cannot start dockerd: ${r.stderr.slice(-2000)}`);
}

/**
 * The Python wrapper stand-in (test/helpers/seldon-wrapper-standin.ts) as an image of its own, built on the
 * infergraph image only for its Node runtime and grpc-js: it reads nothing of infergraph's but prediction.proto.
 */
export function buildStandinImage(baseImage: string, tag = 'local/seldon-standin:test'): string {
  const ctx = mkdtempSync(path.join(os.tmpdir(), 'standin-image-'));
  try {
    copyFileSync(path.join(REPO, 'dist/test/helpers/seldon-wrapper-standin.js'), path.join(ctx, 'standin.js'));
    writeFileSync(
      path.join(ctx, 'Dockerfile'),
      `FROM ${baseImage}\nCOPY standin.js /app/dist/test/helpers/seldon-wrapper-standin.js\n` +
        'ENTRYPOINT ["node", "/app/dist/test/helpers/seldon-wrapper-standin.js"]\nCMD []\n',
    );
    const r = dockerRun(['build', '--network', 'host', '-t', tag, ctx]);
    if (r.code !== 0) throw new Error(`docker build of ${tag} failed: ${r.err.slice(-2000)}`);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return tag;
}
