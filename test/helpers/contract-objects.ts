import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { loadManifestFile } from '../../src/graph/manifest';
import { walkNodes } from '../../src/graph/spec';

/**
 * The objects `infergraph render` emits, reduced to what docker-run reads, written from the agreed contract: per
 * node a Deployment and a headless Service `<graph>-<node>` with args `node --graph /etc/infergraph/graph.yaml --node
 * <name> --address 0.0.0.0:9000`; the executor's Deployment and Service `<graph>-executor` with a `--node-address
 * <node>=dns:///<graph>-<node>:9000` per node; the manifest in ConfigMap `<graph>-manifest` at /etc/infergraph.
 * Tests use it where render is not in the build; where it is, they use render's own output.
 */
export function contractObjects(manifestFile: string, image = 'infergraph:dev'): string {
  const g = loadManifestFile(manifestFile);
  const cm = `${g.name}-manifest`;
  const mount = { volumeMounts: [{ name: 'manifest', mountPath: '/etc/infergraph', readOnly: true }] };
  const security = {
    runAsNonRoot: true,
    runAsUser: 10001,
    runAsGroup: 10001,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  };
  const pod = (name: string, role: string, args: string[], port: number, replicas: number): object[] => {
    const labels = {
      'app.kubernetes.io/name': 'infergraph',
      'infergraph.dev/graph': g.name,
      'infergraph.dev/role': role,
    };
    return [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name },
        spec: {
          replicas,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              containers: [
                {
                  name: 'infergraph',
                  image,
                  args,
                  ports: [{ name: 'grpc', containerPort: port }],
                  readinessProbe: { grpc: { port } },
                  securityContext: security,
                  ...mount,
                },
              ],
              volumes: [{ name: 'manifest', configMap: { name: cm } }],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name },
        spec: {
          clusterIP: role === 'executor' ? undefined : 'None',
          selector: labels,
          ports: [{ name: 'grpc', port, targetPort: port }],
        },
      },
    ];
  };
  const graphArg = ['--graph', '/etc/infergraph/graph.yaml'];
  const nodes = walkNodes(g.graph).filter((n) => !n.endpoint);
  const objects: object[] = [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: cm },
      data: { 'graph.yaml': readFileSync(manifestFile, 'utf8') },
    },
  ];
  for (const n of nodes) {
    const name = `${g.name}-${n.name}`;
    objects.push(
      ...pod(
        name,
        n.name,
        ['node', ...graphArg, '--node', n.name, '--address', '0.0.0.0:9000'],
        9000,
        n.runtime.replicas,
      ),
    );
  }
  const addrs = nodes.flatMap((n) => ['--node-address', `${n.name}=dns:///${g.name}-${n.name}:9000`]);
  objects.push(
    ...pod(`${g.name}-executor`, 'executor', ['executor', ...graphArg, '--address', '0.0.0.0:8000', ...addrs], 8000, 1),
  );
  return objects.map((o) => stringify(o)).join('---\n');
}
