import { ConfigError } from '../errors';
import type { GraphSpec, NodeSpec } from '../graph/spec';
import type { ManifestMeta } from '../k8s/unit-env';
import { DockerRunner, type DockerRunnerOptions } from '../runner/docker';
import { dockerCli, dockerEngineProblem } from '../runner/docker-cli';
import { containerNodes, planWarnings, unsupportedProblems } from '../runner/docker-plan';

/**
 * `up`'s decision for the nodes that are container images: none, nothing to do; a Docker engine answers (and
 * --no-docker was not given), the docker runner; otherwise the refusal, naming each such node and every way to run
 * it. Decided before anything starts, so a graph never comes up with some of its nodes missing.
 */

export interface UpContainerOptions {
  graph: GraphSpec;
  manifest: ManifestMeta;
  /** The manifest path as the user typed it, for the commands the refusal suggests. */
  manifestArg: string;
  /** false with --no-docker */
  useDocker: boolean;
  warn: (line: string) => void;
  runner: Pick<DockerRunnerOptions, 'logger' | 'logLine' | 'out'>;
}

export async function containerRunner(o: UpContainerOptions): Promise<DockerRunner | undefined> {
  const nodes = containerNodes(o.graph);
  if (!nodes.length) return undefined;
  const docker = dockerCli();
  const noEngine = o.useDocker ? await dockerEngineProblem(docker) : undefined;
  if (!o.useDocker || noEngine) {
    const why = noEngine
      ? `no Docker engine answers here (${noEngine}): start one, or point DOCKER_HOST at one`
      : '--no-docker says not to: leave it out where a Docker engine answers';
    throw new ConfigError(nodes.map((n) => refusal(n, o.manifestArg, why)));
  }
  const unsupported = unsupportedProblems(o.graph, o.manifestArg);
  if (unsupported.length) throw new ConfigError(unsupported);
  nodes.flatMap(planWarnings).forEach(o.warn);
  return new DockerRunner({ graph: o.graph, manifest: o.manifest, docker, ...o.runner });
}

/** One node's refusal: why docker is out, then every other way to run the image. */
function refusal(n: NodeSpec, manifest: string, why: string): string {
  const image = n.runtime.container?.image ?? '';
  return (
    `${n.path} (${n.name}): runs the container image ${image}, which infergraph up runs with docker, but ${why}; ` +
    `or run the image yourself (PREDICTIVE_UNIT_HTTP_SERVICE_PORT / ` +
    `PREDICTIVE_UNIT_GRPC_SERVICE_PORT / PREDICTIVE_UNIT_PARAMETERS set) and give the unit endpoint: ` +
    `{service_host, service_port} (or the node endpoint: http://host:port for REST, host:port for gRPC); run the ` +
    `whole graph in docker with k8s/docker-run.sh ${manifest} --keep-image ${image}; or deploy it with infergraph ` +
    `render | kubectl apply -f -`
  );
}
