import type { Command } from 'commander';
import { allNodes, findNode, spawnedNodes } from '../../graph/spec';
import { startTracing, type Tracing } from '../../telemetry';
import { framesAddressFor } from '../../transport/address';
import { admissionMetrics, nodeServerMetrics } from '../../telemetry/graph-metrics';
import { executorMetrics } from '../../telemetry/request-metrics';
import { createMetrics, parseMetricsAddress, serveMetrics, type MetricsEndpoint } from '../../telemetry/metrics';
import type { GraphSpec } from '../../graph/spec';
import { DEFAULTS } from '../../graph/manifest';
import type { Logger } from '../../util/logger';
import { createLogger } from '../../util/logger';
import { startupMark, startupMarks } from '../../util/startup-marks';
import { plainWork, type WorkRunner } from '../../components/call-context';
import { intFlag, logLevelFlag, portFlag, usageError } from '../flags';
import { DEFAULT_ENDPOINT_ENV, graphLogs } from '../../request-log/config';
import type { PayloadLogger } from '../../request-log/request-logger';
import { loadSpec } from '../spec-flags';
import { serveUntilStopped } from '../process';

/** `infergraph node` and `infergraph executor`: the two kinds of long-running process in a graph. */

const collect = (v: string, prev: string[]): string[] => [...prev, v];

interface NodeFlags {
  graph: string;
  node: string;
  address: string;
  port?: string;
  socket?: string;
  framesAddress?: string;
  metricsAddress?: string;
  logLevel: string;
  reflection: boolean;
}

interface ExecutorFlags {
  graph: string;
  address: string;
  port?: string;
  nodeAddress: string[];
  nodeFramesAddress: string[];
  hopTransport?: string;
  metricsAddress?: string;
  restAddress?: string;
  logLevel: string;
  reflection: boolean;
  requestLogUrl?: string;
  requestLogFile?: string;
  requestLogQueue?: string;
  requestLogTimeoutMs?: string;
}

/** Stop serving first (in-flight requests finish their spans), then flush the spans out before the process exits. */
const closeThenFlush =
  (close: () => Promise<void>, tracing: Tracing | undefined, metrics?: MetricsEndpoint) => async (): Promise<void> => {
    try {
      await close();
    } finally {
      await tracing?.shutdown();
      await metrics?.close();
    }
  };

/** Loopback unless told otherwise: a container or pod passes 0.0.0.0:<port>. */
const ADDRESS_HELP = 'listen address: host:port (port 0 = any) or unix:/path; 0.0.0.0:<port> for all interfaces';

const METRICS_HELP =
  'Prometheus /metrics at host:port (port 0 = any), or none; default 0.0.0.0:<spec.metrics.port> (9464)';

const REST_HELP =
  'REST front doors (Seldon /api/v1.0, V2 /v2) at host:port (port 0 = any), or none; ' +
  'default 127.0.0.1:<spec.rest.port> (8080), none when spec.rest.enabled is false';

/** The executor's REST address: --rest-address, else the manifest's spec.rest; undefined for none. */
export function restAddressOf(flag: string | undefined, graph: GraphSpec): string | undefined {
  const spec = graph.rest ?? DEFAULTS.rest;
  const at = flag ?? (spec.enabled ? `127.0.0.1:${spec.port}` : 'none');
  return at === 'none' ? undefined : at;
}

/** The process's /metrics endpoint: --metrics-address, else the manifest's spec.metrics. */
async function startMetrics(
  flag: string | undefined,
  graph: GraphSpec,
  logger: Logger,
): Promise<MetricsEndpoint | undefined> {
  const spec = graph.metrics ?? DEFAULTS.metrics;
  const at = parseMetricsAddress(flag ?? (spec.enabled ? `0.0.0.0:${spec.port}` : 'none'));
  if (!at) return undefined;
  const endpoint = await serveMetrics(await createMetrics(), at);
  logger.info({ metrics: endpoint.url }, `metrics at ${endpoint.url}`);
  return endpoint;
}

/** How long a stopping executor lets queued payload-log events go out. */
const LOG_DRAIN_MS = 3000;

/** The executor's payload logger, when the graph or one of its nodes has a logger. */
async function payloadLogger(
  o: ExecutorFlags,
  graph: GraphSpec,
  logger: Logger,
  metrics: MetricsEndpoint | undefined,
  tracing: Tracing | undefined,
): Promise<PayloadLogger | undefined> {
  if (o.requestLogUrl !== undefined && !/^https?:\/\/\S+$/.test(o.requestLogUrl))
    throw usageError(`--request-log-url must be an http:// or https:// URL, got '${o.requestLogUrl}'`);
  const capacity = intFlag('--request-log-queue', o.requestLogQueue ?? '1000', { min: 1 });
  const timeoutMs = intFlag('--request-log-timeout-ms', o.requestLogTimeoutMs ?? '2000', { min: 1 });
  if (!graphLogs(graph)) return undefined;
  const { PayloadLogger } = await import('../../request-log/request-logger');
  const { requestLogMetrics } = await import('../../request-log/metrics');
  const defaultUrl = o.requestLogUrl ?? (process.env[DEFAULT_ENDPOINT_ENV] || undefined);
  const payloads = new PayloadLogger({
    graph,
    logger,
    ...(defaultUrl ? { defaultUrl } : {}),
    ...(o.requestLogFile ? { file: o.requestLogFile } : {}),
    queue: { capacity, timeoutMs },
    ...(metrics ? { metrics: requestLogMetrics(metrics, graph.name) } : {}),
    ...(tracing ? { traceparent: () => tracing.currentTraceparent() } : {}),
  });
  logger.info({ sinks: payloads.stats().map((s) => s.sink) }, 'payload logging on');
  return payloads;
}

export function registerServe(program: Command): void {
  program
    .command('node')
    .description('serve one node of a graph (its component behind the Seldon gRPC services, health, reflection)')
    .requiredOption('-g, --graph <file>', 'graph manifest (YAML)')
    .requiredOption('-n, --node <name>', 'node name in the manifest')
    .option('-a, --address <addr>', ADDRESS_HELP, '127.0.0.1:9000')
    .option('-p, --port <port>', 'shorthand for --address 127.0.0.1:<port>')
    .option('-s, --socket <path>', 'shorthand for --address unix:<path>')
    .option(
      '--frames-address <addr>',
      "also listen for framed hops: unix:/path, host:port, or 'auto' (beside --address)",
    )
    .option('--metrics-address <addr>', METRICS_HELP)
    .option('--log-level <level>', 'pino log level', 'info')
    .option('--no-reflection', 'no gRPC server reflection (overrides spec.reflection)')
    .action(async (o: NodeFlags) => {
      const logLevel = logLevelFlag(o.logLevel);
      const port = o.port === undefined ? undefined : portFlag('--port', o.port);
      // Only this node's module is loaded: the manifest's other user modules are not run in this process.
      const graph = loadSpec(o.graph, o, { checkFiles: o.node });
      const node = findNode(graph, o.node);
      if (!node) {
        const names = allNodes(graph).map((n) => n.name);
        throw usageError(`--node ${o.node}: no such node in ${o.graph} (nodes: ${names.join(', ')})`);
      }
      const logger = createLogger(node.name, logLevel);
      startupMark('manifest');
      // The component first: a model's worker thread loads onnxruntime and makes its session while this thread loads
      // the server's code and telemetry (issue 22: a restarted model serves sooner). Calls reach the component only
      // once the server listens, by which time tracing has set the work runner.
      let work: WorkRunner = plainWork;
      const { ComponentHost } = await import('../../node/component-host');
      const host = ComponentHost.create(graph, node, { logger, work: (name, fn, attrs) => work(name, fn, attrs) });
      host.catch(() => undefined); // awaited (and its error reported) by startNodeServer; not unhandled meanwhile
      // Loaded here, not at the top: the executor's process does not need the node runtime, nor the node the walk's.
      const { startNodeServer } = await import('../../node/node-server');
      startupMark('code');
      const address = o.socket ? `unix:${o.socket}` : port !== undefined ? `127.0.0.1:${port}` : o.address;
      const framesAddress = o.framesAddress === 'auto' ? framesAddressFor(address) : o.framesAddress;
      const metrics = await startMetrics(o.metricsAddress, graph, logger);
      const tracing = await startTracing({ graph, node }, logger);
      if (tracing?.work) work = tracing.work;
      startupMark('telemetry');
      const meter = metrics ? nodeServerMetrics(metrics, node) : undefined;
      const running = await startNodeServer({
        graph,
        node,
        host,
        address,
        logger,
        work: tracing?.work,
        serverInterceptors: tracing?.serverInterceptors,
        ...(meter ? { meterService: meter.service, frameMeter: meter.forMethod } : {}),
        ...(framesAddress ? { framesAddress } : {}),
        ...(tracing ? { frameTracer: tracing.frameServerTracer } : {}),
        onAdmission: metrics ? admissionMetrics(metrics, node.name) : undefined,
      });
      const close = closeThenFlush(() => running.close(), tracing, metrics);
      const extra = {
        metrics: metrics?.url,
        ...(running.framesAddress ? { framesAddress: running.framesAddress } : {}),
      };
      startupMark('serving');
      logger.info(startupMarks(), 'startup');
      // The node serves its callers while they drain (up to spec.drainTimeoutMs), then refuses new calls for a while.
      serveUntilStopped(running.address, close, logger, extra, graph.drainTimeoutMs + 4000);
    });

  program
    .command('executor')
    .description('serve the graph: Seldon.Predict / GraphMetadata, walking the nodes over gRPC')
    .requiredOption('-g, --graph <file>', 'graph manifest (YAML)')
    .option('-a, --address <addr>', ADDRESS_HELP, '127.0.0.1:8000')
    .option('-p, --port <port>', 'shorthand for --address 127.0.0.1:<port>')
    .option(
      '--node-address <name=addr>',
      'address of a node (repeatable); default <name>:9000, or its manifest endpoint',
      collect,
      [],
    )
    .option('--node-frames-address <name=addr>', 'frame address of a node (repeatable); others get gRPC', collect, [])
    .option('--hop-transport <kind>', "grpc or frames: overrides the manifest's spec.hopTransport")
    .option('--metrics-address <addr>', METRICS_HELP)
    .option('--rest-address <addr>', REST_HELP)
    .option('--log-level <level>', 'pino log level', 'info')
    .option('--no-reflection', 'no gRPC server reflection (overrides spec.reflection)')
    .option(
      '--request-log-url <url>',
      `payload logging: where loggers without a url send events (default: $${DEFAULT_ENDPOINT_ENV})`,
    )
    .option('--request-log-file <file>', "payload logging: every event to this JSON-lines file ('-': the log)")
    .option('--request-log-queue <n>', 'payload logging: events that may wait per sink before drops', '1000')
    .option('--request-log-timeout-ms <ms>', 'payload logging: one send to a sink gives up after this', '2000')
    .action(async (o: ExecutorFlags) => {
      const logLevel = logLevelFlag(o.logLevel);
      const port = o.port === undefined ? undefined : portFlag('--port', o.port);
      const graph = loadSpec(o.graph, o);
      const logger = createLogger(`${graph.name}-executor`, logLevel);
      startupMark('manifest');
      const { startExecutorServer } = await import('../../executor/executor-server');
      startupMark('code');
      const addresses: Record<string, string> = {};
      for (const n of spawnedNodes(graph)) addresses[n.name] = `${n.name}:9000`;
      const parse = (flag: string, kvs: string[], into: Record<string, string>): void => {
        for (const kv of kvs) {
          const i = kv.indexOf('=');
          const name = kv.slice(0, i);
          if (i < 1 || !findNode(graph, name)) {
            throw usageError(`${flag} ${kv}: expected <node>=<address> with a node of ${o.graph}`);
          }
          into[name] = kv.slice(i + 1);
        }
      };
      parse('--node-address', o.nodeAddress, addresses);
      const framesAddresses: Record<string, string> = {};
      parse('--node-frames-address', o.nodeFramesAddress, framesAddresses);
      const address = port !== undefined ? `127.0.0.1:${port}` : o.address;
      const metrics = await startMetrics(o.metricsAddress, graph, logger);
      const tracing = await startTracing({ graph }, logger);
      startupMark('telemetry');
      const restAddress = restAddressOf(o.restAddress, graph);
      const payloads = await payloadLogger(o, graph, logger, metrics, tracing);
      // The composition root: telemetry reaches the executor as one bundle.
      const running = await startExecutorServer({
        graph,
        addresses,
        address,
        ...(restAddress ? { restAddress } : {}),
        logger,
        framesAddresses,
        telemetry: {
          ...(tracing ? { tracing } : {}),
          ...(metrics ? { metrics: executorMetrics(metrics, graph) } : {}),
        },
        ...(payloads ? { requestLogger: payloads, hopLogger: (c) => payloads.hops(c) } : {}),
      });
      if (running.restUrl) logger.info({ rest: running.restUrl }, `REST at ${running.restUrl}`);
      // The payload log goes out after the last request was answered (a few seconds at most), before the exit.
      const close = closeThenFlush(
        async () => {
          await running.close();
          await payloads?.close(LOG_DRAIN_MS);
        },
        tracing,
        metrics,
      );
      startupMark('serving');
      logger.info(startupMarks(), 'startup');
      const extra = { metrics: metrics?.url, ...(running.restUrl ? { rest: running.restUrl } : {}) };
      serveUntilStopped(running.address, close, logger, extra, graph.drainTimeoutMs + 4000);
    });
}
