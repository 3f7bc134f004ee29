import { allNodes, type GraphSpec } from '../graph/spec';

/**
 * Seldon Core v1's executor reads its default payload-log sink from this variable, which its operator sets from
 * `executor.requestLogger.defaultEndpoint`; infergraph's executor and operator use the same name.
 */
export const DEFAULT_ENDPOINT_ENV = 'REQUEST_LOGGER_DEFAULT_ENDPOINT';

/** Whether anything in the graph asks for payload logging. */
export function graphLogs(graph: GraphSpec): boolean {
  return graph.logger !== undefined || allNodes(graph).some((n) => n.logger);
}

/** The loggers (by manifest path) that name no url: they need the executor's default sink. */
export function loggersWithoutUrl(graph: GraphSpec): string[] {
  const out: string[] = [];
  if (graph.logger && !graph.logger.url) out.push('spec.logger');
  for (const n of allNodes(graph)) if (n.logger && !n.logger.url) out.push(`${n.path} (${n.name}).logger`);
  return out;
}

export const noSinkProblem = (where: string): string =>
  `${where}: no url, and no default sink: give the logger a url, or the executor --request-log-url URL ` +
  `(or ${DEFAULT_ENDPOINT_ENV}), or --request-log-file FILE (infergraph up --log-requests FILE or -)`;
