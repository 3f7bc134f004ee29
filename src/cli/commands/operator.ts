import type { Command } from 'commander';
import os from 'node:os';
import { DEFAULT_IMAGE, MANIFEST_DIR } from '../../k8s/names';
import { loadSeldonDeployment } from '../../seldon/load';
import { startOperator } from '../../k8s/operator/run';
import { createLogger } from '../../util/logger';

/**
 * `infergraph operator`: reconciles InferenceGraphs into Deployments, Services and the rest (k8s/operator.yaml runs
 * it).
 */
export function registerOperator(program: Command): void {
  program
    .command('operator')
    .description(
      'run the Kubernetes operator: watch InferenceGraphs and SeldonDeployments and reconcile each into its pods and services',
    )
    .option('--image <image>', 'image of the graph pods (env INFERGRAPH_IMAGE)')
    .option('-n, --namespace <ns>', 'watch only this namespace (default: all)')
    .option('--health-address <addr>', 'host:port of /healthz and /readyz', '0.0.0.0:8081')
    .option(
      '--lease-namespace <ns>',
      'namespace of the leader-election Lease (default: env POD_NAMESPACE, else infergraph-system)',
    )
    .option('--lease-name <name>', 'name of the leader-election Lease', 'infergraph-operator')
    .option('--identity <id>', 'this replica in the Lease (default: env POD_NAME, else hostname-pid)')
    .option('--no-seldon', 'do not watch SeldonDeployments (machinelearning.seldon.io/v1)')
    .option('--log-level <level>', 'pino log level', 'info')
    .option(
      '--request-logger-default-endpoint <url>',
      "executors' payload-log sink for loggers without a url (env EXECUTOR_REQUEST_LOGGER_DEFAULT_ENDPOINT, else http://default-broker)",
    )
    .action(
      async (o: {
        image?: string;
        namespace?: string;
        healthAddress: string;
        leaseNamespace?: string;
        leaseName: string;
        identity?: string;
        seldon: boolean;
        logLevel: string;
        requestLoggerDefaultEndpoint?: string;
      }) => {
        const logger = createLogger('infergraph-operator', o.logLevel);
        // Loaded here: the client (~0.5 s, ESM) is not needed by any other command.
        const { ClientNodeApi } = await import('../../k8s/operator/client-node-api');
        const identity = o.identity ?? process.env.POD_NAME ?? `${os.hostname()}-${process.pid}`;
        const running = await startOperator({
          api: ClientNodeApi.fromDefault(),
          logger,
          image: o.image ?? process.env.INFERGRAPH_IMAGE ?? DEFAULT_IMAGE,
          identity,
          // Seldon's operator: EXECUTOR_REQUEST_LOGGER_DEFAULT_ENDPOINT, default http://default-broker (Knative).
          requestLoggerDefaultEndpoint:
            o.requestLoggerDefaultEndpoint ??
            (process.env.EXECUTOR_REQUEST_LOGGER_DEFAULT_ENDPOINT || 'http://default-broker'),
          namespace: o.namespace,
          ...(o.seldon ? { seldon: (doc, source) => loadSeldonDeployment(doc, MANIFEST_DIR, source) } : {}),
          lease: { namespace: o.leaseNamespace ?? process.env.POD_NAMESPACE ?? 'infergraph-system', name: o.leaseName },
          healthAddress: o.healthAddress,
        });
        logger.info({ identity, health: running.healthAddress }, 'operator started');
        const stop = (sig: string): void => {
          logger.info({ sig }, 'stopping: finishing the reconcile in progress, releasing the lease');
          const force = setTimeout(() => process.exit(1), 20_000);
          force.unref();
          running.stop().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      },
    );
}
