import type { Command } from 'commander';
import path from 'node:path';
import { ConfigError } from '../../errors';
import { spawnedNodes } from '../../graph/spec';
import { DEFAULT_ENDPOINT_ENV, loggersWithoutUrl, noSinkProblem } from '../../request-log/config';
import { Supervisor } from '../../runner/supervisor';
import { resolveTracing, tracingEnvFromFlags } from '../../telemetry/config';
import { LOG_FORMATS, LogPrinter } from '../../util/log-format';
import { createLogger } from '../../util/logger';
import { enumFlag, intFlag, logLevelFlag, portFlag } from '../flags';
import { loadGraph } from '../spec-flags';
import { containerRunner } from '../up-containers';

interface UpFlags {
  address: string;
  port?: string;
  transport: string;
  hopTransport?: string;
  logLevel: string;
  logFormat?: string;
  metrics: boolean;
  restAddress?: string;
  traceExporter?: string;
  traceEndpoint?: string;
  traceSampleRatio?: string;
  logRequests?: string;
  requestLogUrl?: string;
  requestLogQueue?: string;
  /** false with --no-docker */
  docker: boolean;
}

/** The executor's REST port under `up`, beside its gRPC 9000 (Seldon's executor serves REST on 8000). */
export const UP_REST_ADDRESS = '127.0.0.1:8000';

/** --rest-address, else 8000, or a free port when the gRPC port is 0 (tests, several graphs at once); 'none': off. */
export function upRestAddress(flag: string | undefined, executorAddress: string, enabled: boolean): string | undefined {
  const at = flag ?? (!enabled ? 'none' : /:0$/.test(executorAddress) ? '127.0.0.1:0' : UP_REST_ADDRESS);
  return at === 'none' ? undefined : at;
}

/** `infergraph up`: the whole graph on this machine, one process per node plus the executor. */
export function registerUp(program: Command): void {
  program
    .command('up')
    .description(
      'run a graph locally: one process per node plus the executor, container-image nodes in docker; Ctrl-C stops them all',
    )
    .argument('<manifest>', 'graph manifest (YAML)')
    .option('-a, --address <addr>', 'executor listen address (port 0 picks a free port)', '127.0.0.1:9000')
    .option('-p, --port <port>', 'shorthand for --address 127.0.0.1:<port>')
    .option('-t, --transport <kind>', 'node hops over unix sockets or loopback tcp', 'unix')
    .option('--hop-transport <kind>', 'grpc or frames between the executor and the nodes (overrides spec.hopTransport)')
    .option('--log-level <level>', 'log level of every process', 'info')
    .option('--log-format <format>', 'pretty (one coloured line per event) or json; default pretty on a terminal')
    .option('--no-metrics', 'no Prometheus /metrics endpoints (default: each process on a free loopback port)')
    .option(
      '--rest-address <addr>',
      `executor REST front doors (Seldon /api/v1.0, V2 /v2): host:port or none; default ${UP_REST_ADDRESS}, ` +
        'a free port when the executor asks for one (--port 0), none when spec.rest.enabled is false',
    )
    .option(
      '--trace-exporter <kind>',
      "send every process's spans with this exporter: none, jaeger, otlp-grpc, otlp-http (overrides spec.tracing)",
    )
    .option(
      '--trace-endpoint <url>',
      'where every process sends spans (OTLP: http://host:4317 or :4318; Jaeger: http://host:14268/api/traces or agent host:6832)',
    )
    .option('--trace-sample-ratio <r>', 'fraction of requests traced, 0..1')
    .option(
      '--log-requests <file>',
      "payload logging (spec.logger, nodes' logger): every event to this JSON-lines file instead of any url; '-' prints them",
    )
    .option('--request-log-url <url>', 'payload logging: where loggers without a url send their events')
    .option('--request-log-queue <n>', 'payload logging: events that may wait per sink before drops (default 1000)')
    .option(
      '--no-docker',
      'never run container-image nodes with docker: refuse them, naming each (default: docker when an engine answers)',
    )
    .action(async (manifest: string, o: UpFlags) => {
      const transport = enumFlag('--transport', o.transport, ['unix', 'tcp'] as const);
      const logLevel = logLevelFlag(o.logLevel);
      const port = o.port === undefined ? undefined : portFlag('--port', o.port);
      const file = path.resolve(manifest);
      const warn = (w: string): void => console.error(`infergraph: warning: ${w}`);
      const { graph, manifest: envelope } = loadGraph(file, o, { checkFiles: true }, warn);
      // A logger without a url needs a default sink: said here, before anything is spawned.
      const unsunk =
        o.logRequests || o.requestLogUrl || process.env[DEFAULT_ENDPOINT_ENV] ? [] : loggersWithoutUrl(graph);
      if (unsunk.length) throw new ConfigError(unsunk.map(noSinkProblem));
      const format = o.logFormat
        ? enumFlag('--log-format', o.logFormat, LOG_FORMATS)
        : process.stderr.isTTY
          ? 'pretty'
          : 'json';
      const colour = process.stderr.isTTY && !process.env.NO_COLOR;
      const printer = new LogPrinter((s) => process.stderr.write(s), format, colour);
      const logger = createLogger('infergraph-up', logLevel, (line) => printer.line('up', line));
      const logLine = (name: string, line: string): void => printer.line(name, line);
      const out = (line: string): void => console.log(line);
      // Container-image nodes: docker when an engine answers, else refused here, before anything is spawned.
      const runner = await containerRunner({
        graph,
        manifest: envelope,
        manifestArg: manifest,
        useDocker: o.docker,
        warn,
        runner: { logger, logLine, out },
      });
      // Standard OTEL_* variables for every child, so all processes export to the one endpoint.
      const env = tracingEnvFromFlags(
        { exporter: o.traceExporter, endpoint: o.traceEndpoint, sampleRatio: o.traceSampleRatio },
        graph.tracing,
      );
      // What every child will resolve: checked here too, so a bad setting fails once, before anything is spawned.
      const tracing = resolveTracing(graph.tracing, { ...process.env, ...env });
      const executorAddress = port !== undefined ? `127.0.0.1:${port}` : o.address;
      const restAddress = upRestAddress(o.restAddress, executorAddress, graph.rest?.enabled ?? true);
      const sup = new Supervisor({
        graph,
        manifestPath: file,
        executorAddress,
        ...(restAddress ? { restAddress } : {}),
        transport,
        logger,
        childArgs: ['--log-level', logLevel],
        executorArgs: [
          ...(o.logRequests ? ['--request-log-file', o.logRequests === '-' ? '-' : path.resolve(o.logRequests)] : []),
          ...(o.requestLogUrl ? ['--request-log-url', o.requestLogUrl] : []),
          ...(o.requestLogQueue
            ? ['--request-log-queue', String(intFlag('--request-log-queue', o.requestLogQueue, { min: 1 }))]
            : []),
        ],
        ...(runner ? { runner } : {}),
        logLine,
        env,
        out,
        onFatal: (err) => {
          console.error(`infergraph: ${err.message}; graph stopped`);
          process.exit(1);
        },
      });
      let stopping = false;
      const stop = (sig: string): void => {
        if (stopping) return;
        stopping = true;
        console.log(`infergraph: ${sig}, stopping ${graph.name}`);
        sup.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGHUP', () => stop('SIGHUP'));
      const info = await sup.start();
      const n = spawnedNodes(graph).length;
      console.log(info.executorAddress);
      const containers = runner ? ` and ${runner.containerCount} containers` : '';
      const what = `${n} nodes + executor = ${info.processes.length} processes${containers}; hops over ${graph.hopTransport}`;
      console.log(`infergraph: graph '${graph.name}' ready at ${info.executorAddress} (${what})`);
      if (info.executorRest)
        console.log(
          `infergraph: REST at ${info.executorRest} (Seldon /api/v1.0/predictions, V2 /v2/models/${graph.name}/infer)`,
        );
      if (o.logRequests)
        console.log(
          `infergraph: payload log ${o.logRequests === '-' ? 'printed' : `to ${path.resolve(o.logRequests)}`}`,
        );
      if (tracing)
        console.log(
          `infergraph: tracing ${Math.round(tracing.sampleRatio * 1000) / 10}% of requests to ${tracing.exporter} ${tracing.endpoint}`,
        );
    });
}
