import type { Command } from 'commander';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { ConfigError } from '../../errors';
import { isObj } from '../../graph/check';
import { parseManifestYaml, readManifestText } from '../../graph/manifest';
import { walkNodes } from '../../graph/spec';
import { loadAnyManifestFile } from '../../seldon/load';
import { isSeldonDeployment } from '../../seldon/validate';
import { Supervisor } from '../../runner/supervisor';
import { resolveTracing, tracingEnvFromFlags } from '../../telemetry/config';
import { LOG_FORMATS, LogPrinter } from '../../util/log-format';
import { createLogger } from '../../util/logger';
import { enumFlag, logLevelFlag, portFlag } from '../flags';
import { loadSpec } from '../spec-flags';

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
}

/** The executor's REST port under `up`, beside its gRPC 9000 (Seldon's executor serves REST on 8000). */
export const UP_REST_ADDRESS = '127.0.0.1:8000';

/** --rest-address, else 8000, or a free port when the gRPC port is 0 (tests, several graphs at once); 'none': off. */
export function upRestAddress(flag: string | undefined, executorAddress: string, enabled: boolean): string | undefined {
  const at = flag ?? (!enabled ? 'none' : /:0$/.test(executorAddress) ? '127.0.0.1:0' : UP_REST_ADDRESS);
  return at === 'none' ? undefined : at;
}

/**
 * The manifest file the processes of `up` read: the file itself for an InferenceGraph; for a SeldonDeployment of one
 * predictor, its InferenceGraph (infergraph convert) written to a temporary file, removed by `cleanup`.
 */
export function upManifestFile(file: string): { file: string; cleanup: () => void } {
  const doc = parseManifestYaml(readManifestText(file), file);
  if (!isObj(doc) || !isSeldonDeployment(doc)) return { file, cleanup: () => {} };
  const loaded = loadAnyManifestFile(file);
  for (const w of loaded.warnings) console.error(`warning: ${w}`);
  if (loaded.graphs.length !== 1)
    throw new ConfigError([
      `${file}: spec.predictors: ${loaded.graphs.length} predictors; infergraph up runs a SeldonDeployment of one predictor: run each with infergraph convert and up, or deploy it on Kubernetes (infergraph render)`,
    ]);
  const [g] = loaded.graphs as [(typeof loaded.graphs)[number]];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-sdep-'));
  const out = path.join(dir, `${g.graph.name}.yaml`);
  writeFileSync(out, stringify(g.manifest, { lineWidth: 0, aliasDuplicateObjects: false }));
  return { file: out, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `infergraph up`: the whole graph on this machine, one process per node plus the executor. */
export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run a graph locally: one process per node plus the executor; Ctrl-C stops them all')
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
    .action(async (manifest: string, o: UpFlags) => {
      const transport = enumFlag('--transport', o.transport, ['unix', 'tcp'] as const);
      const logLevel = logLevelFlag(o.logLevel);
      const port = o.port === undefined ? undefined : portFlag('--port', o.port);
      const given = upManifestFile(path.resolve(manifest));
      process.on('exit', given.cleanup);
      const file = given.file;
      const graph = loadSpec(file, o, { checkFiles: true });
      // A container node (runtime.container) needs a container runtime; the local runner starts processes only.
      const images = walkNodes(graph.graph).filter((n) => n.runtime.container);
      if (images.length)
        throw new ConfigError(
          images.map(
            (n) =>
              `${n.path} (${n.name}): runs the container image ${n.runtime.container!.image}, which infergraph up cannot start: run the image yourself (PREDICTIVE_UNIT_HTTP_SERVICE_PORT / PREDICTIVE_UNIT_GRPC_SERVICE_PORT / PREDICTIVE_UNIT_PARAMETERS set) and give the unit endpoint: {service_host, service_port} (or the node endpoint: http://host:port for REST, host:port for gRPC); run the whole graph in docker with k8s/docker-run.sh ${manifest} --keep-image ${n.runtime.container!.image}; or deploy it with infergraph render | kubectl apply -f -`,
          ),
        );
      const format = o.logFormat
        ? enumFlag('--log-format', o.logFormat, LOG_FORMATS)
        : process.stderr.isTTY
          ? 'pretty'
          : 'json';
      const colour = process.stderr.isTTY && !process.env.NO_COLOR;
      const printer = new LogPrinter((s) => process.stderr.write(s), format, colour);
      const logger = createLogger('infergraph-up', logLevel, (line) => printer.line('up', line));
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
        logLine: (name, line) => printer.line(name, line),
        env,
        out: (line) => console.log(line),
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
      const n = walkNodes(graph.graph).filter((x) => !x.endpoint).length;
      console.log(info.executorAddress);
      const what = `${n} nodes + executor = ${info.processes.length} processes; hops over ${graph.hopTransport}`;
      console.log(`infergraph: graph '${graph.name}' ready at ${info.executorAddress} (${what})`);
      if (info.executorRest)
        console.log(
          `infergraph: REST at ${info.executorRest} (Seldon /api/v1.0/predictions, V2 /v2/models/${graph.name}/infer)`,
        );
      if (tracing)
        console.log(
          `infergraph: tracing ${Math.round(tracing.sampleRatio * 1000) / 10}% of requests to ${tracing.exporter} ${tracing.endpoint}`,
        );
    });
}
