import { NODE_TYPES } from '../components/types';
import { HOP_CODECS } from '../hop/vocabulary';

/**
 * The manifest's schema as plain data: field names, types, ranges, enums, defaults and descriptions. Each field is
 * written here once and only here: it is the source of the validator's field checks and messages
 * (src/graph/manifest.ts), the defaults (DEFAULTS there), the typed spec (spec.ts derives its types with Typed<>) and
 * the CRD's OpenAPI v3 schema (src/k8s/crd.ts writes k8s/crd.yaml from it). Checks a schema cannot express (unique
 * node names, endpoint syntax, parameters against the component's own schema) stay in code, next to the field checks.
 */

/**
 * How the executor reaches the nodes it started: gRPC (HTTP/2), or length-prefixed frames over the nodes' second
 * socket (src/transport). `endpoint:` nodes always get gRPC.
 */
export const HOP_TRANSPORTS = ['grpc', 'frames'] as const;

/** Where a node runs: its own process (the default), or inside the executor (runtime.placement). */
export const NODE_PLACEMENTS = ['process', 'executor'] as const;
export type HopTransport = (typeof HOP_TRANSPORTS)[number];

export const TRACE_EXPORTERS = ['none', 'jaeger', 'otlp-grpc', 'otlp-http'] as const;
export type TraceExporterKind = (typeof TRACE_EXPORTERS)[number];

interface Described {
  description: string;
}
export interface IntegerField extends Described {
  type: 'integer';
  minimum: number;
  maximum?: number;
  default?: number;
}
export interface NumberField extends Described {
  type: 'number';
  minimum: number;
  maximum: number;
  default?: number;
}
export interface StringField extends Described {
  type: 'string';
  enum?: readonly string[];
  /** Anchored regular expression, with the words used in its error message. */
  pattern?: { regex: string; means: string };
  maxLength?: number;
  default?: string;
}
export interface BooleanField extends Described {
  type: 'boolean';
  default?: boolean;
}
/** A Kubernetes resource quantity: 500m, 2, 1.5Gi. */
export interface QuantityField extends Described {
  type: 'quantity';
}
/** A string, number or boolean (stringified where a string is needed). */
export interface ScalarField extends Described {
  type: 'scalar';
}
export interface ObjectField extends Described {
  type: 'object';
  properties: Record<string, Field>;
  required?: readonly string[];
  /** Absent, the object is its fields' defaults (so the typed spec always has it). */
  filled?: true;
}
export interface MapField extends Described {
  type: 'map';
  keys: { regex: string; noun: string };
  values: Field;
  /** How the expected shape is shown in the error message, e.g. "NAME: value". */
  shape: string;
  /** Absent, the map is empty (so the typed spec always has it). */
  filled?: true;
}
export interface ListField extends Described {
  type: 'list';
  items: Field;
}
/** A child graph node: the schema is recursive here. */
export interface NodeRef extends Described {
  type: 'node';
  /** Levels of this subtree the CRD writes out (default: src/k8s/crd.ts NODE_DEPTH from the root). */
  crdLevels?: number;
}
/** Checked in code (component parameters) or by Kubernetes itself (volume sources): any YAML value. */
export interface OpaqueField extends Described {
  type: 'opaque';
  /** Fields an opaque object must have, typed (Kubernetes volumes need a name). */
  properties?: Record<string, Field>;
  required?: readonly string[];
}

export type Field =
  | IntegerField
  | NumberField
  | StringField
  | BooleanField
  | QuantityField
  | ScalarField
  | ObjectField
  | MapField
  | ListField
  | NodeRef
  | OpaqueField;

/**
 * The type of a field's value once validated, defaults applied: what the typed spec (spec.ts) is made of. An object's
 * field is present when it is required, has a default or is `filled`; optional otherwise. Nodes and opaque values are
 * typed by spec.ts itself (the validator checks them in code).
 */
export type Typed<F> = F extends { type: 'integer' | 'number' }
  ? number
  : F extends { type: 'string'; enum: readonly (infer E)[] }
    ? E
    : F extends { type: 'string' | 'quantity' | 'scalar' }
      ? string
      : F extends { type: 'boolean' }
        ? boolean
        : F extends { type: 'object'; properties: infer P }
          ? TypedObject<P, RequiredOf<F>>
          : F extends { type: 'map'; values: infer V }
            ? Record<string, Typed<V>>
            : F extends { type: 'list'; items: infer I }
              ? Typed<I>[]
              : F extends { type: 'opaque'; properties: infer P }
                ? TypedObject<P, RequiredOf<F>> & Record<string, unknown>
                : unknown;

type RequiredOf<F> = F extends { required: readonly (infer R)[] } ? R : never;
type Present<P, R> = {
  [K in keyof P]: K extends R ? K : P[K] extends { default: unknown } | { filled: true } ? K : never;
}[keyof P];
type TypedObject<P, R> = Flat<
  { -readonly [K in Present<P, R>]: Typed<P[K]> } & {
    -readonly [K in Exclude<keyof P, Present<P, R>>]?: Typed<P[K]>;
  }
>;
type Flat<T> = { [K in keyof T]: T[K] };

const DNS_LABEL = {
  regex: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
  means: "a DNS-1123 label (lowercase letters, digits, '-', at most 63)",
};
const ABS_PATH = { regex: '^/', means: 'an absolute path' };

const quantities = (what: string) =>
  ({
    type: 'object',
    description: what,
    properties: {
      cpu: { type: 'quantity', description: 'CPU, e.g. 500m or 2.' },
      memory: { type: 'quantity', description: 'Memory, e.g. 512Mi or 2Gi.' },
    },
  }) as const satisfies ObjectField;

/** The pod settings a node and the executor share (Seldon's componentSpecs carry the same). */
const POD_FIELDS = {
  replicas: {
    type: 'integer',
    minimum: 1,
    default: 1,
    description: 'Processes (locally) or pods (Kubernetes) serving this; the executor balances over them.',
  },
  image: {
    type: 'string',
    description: 'Container image on Kubernetes (default: the image the operator or render uses).',
  },
  resources: {
    type: 'object',
    description: 'Kubernetes resource requests and limits of the container.',
    properties: { requests: quantities('Guaranteed resources.'), limits: quantities('Maximum resources.') },
  },
  env: {
    type: 'map',
    keys: { regex: '^[A-Za-z_][A-Za-z0-9_]*$', noun: 'variable' },
    values: { type: 'scalar', description: 'Value (numbers and booleans are stringified).' },
    shape: 'NAME: value',
    filled: true,
    description: 'Environment variables set for the process.',
  },
} as const satisfies Record<string, Field>;

const VOLUME_MOUNT = {
  type: 'object',
  description: 'Mount of one of runtime.volumes into the node container.',
  required: ['name', 'mountPath'],
  properties: {
    name: { type: 'string', pattern: DNS_LABEL, maxLength: 63, description: 'Name of a volume in runtime.volumes.' },
    mountPath: { type: 'string', pattern: ABS_PATH, description: 'Where the volume appears in the container.' },
    subPath: { type: 'string', description: 'Sub-path of the volume to mount.' },
    readOnly: { type: 'boolean', description: 'Mount read-only.' },
  },
} as const satisfies ObjectField;

export const MODEL_SOURCES = ['synthetic', 'volume', 'image'] as const;
export type ModelSourceKind = (typeof MODEL_SOURCES)[number];

const port = (what: string, dflt: number) =>
  ({ type: 'integer', minimum: 1, maximum: 65535, default: dflt, description: what }) as const satisfies IntegerField;

/**
 * A node served by a user's container speaking Seldon's node API (an image built on Seldon's Python wrapper, or a
 * prepackaged server): a pod on Kubernetes, rendered as Seldon's operator renders a componentSpecs container
 * (src/k8s); a docker container under `infergraph up` (src/runner/docker.ts), with the same environment.
 */
const CONTAINER = {
  type: 'object',
  description:
    "The node is a user's container speaking Seldon's node API (a pod on Kubernetes, a docker container under " +
    "infergraph up), with Seldon's ports and environment (PREDICTIVE_UNIT_*); implementation is then not given.",
  required: ['image'],
  properties: {
    image: { type: 'string', description: 'The container image.' },
    transport: {
      type: 'string',
      enum: ['grpc', 'rest'],
      default: 'grpc',
      description: "Seldon's transport of the container: the port PREDICTIVE_UNIT_SERVICE_PORT names and probes check.",
    },
    httpPort: port("Seldon's REST port of the container (PREDICTIVE_UNIT_HTTP_SERVICE_PORT).", 9000),
    grpcPort: port("Seldon's gRPC port of the container (PREDICTIVE_UNIT_GRPC_SERVICE_PORT).", 9500),
    metricsPort: port('Prometheus port of the container (PREDICTIVE_UNIT_METRICS_SERVICE_PORT).', 6000),
    parameters: {
      type: 'list',
      description: "Seldon's typed parameters, passed as PREDICTIVE_UNIT_PARAMETERS (JSON).",
      items: {
        type: 'object',
        description: 'One parameter.',
        required: ['name', 'type', 'value'],
        properties: {
          name: { type: 'string', description: 'Parameter name.' },
          type: {
            type: 'string',
            enum: ['INT', 'FLOAT', 'DOUBLE', 'STRING', 'BOOL', 'JSON'],
            description: 'INT, FLOAT, DOUBLE, STRING, BOOL or JSON.',
          },
          value: { type: 'string', description: 'The value, as text.' },
        },
      },
    },
    modelUri: {
      type: 'string',
      description:
        'Model files fetched by a storage-initializer init container into /mnt/models (gs://, s3://, pvc://...).',
    },
    envSecretRefName: { type: 'string', description: "Secret whose keys are the storage initializer's environment." },
    storageInitializerImage: { type: 'string', description: 'Image of the storage initializer.' },
    container: {
      type: 'opaque',
      description: 'Kubernetes Container fields kept as written (env, resources, probes, args, volumeMounts, ...).',
    },
    pod: {
      type: 'opaque',
      description:
        'Kubernetes PodSpec fields kept as written (volumes, tolerations, affinity, serviceAccountName, ' +
        'imagePullSecrets, ...; containers are sidecars).',
    },
    podMetadata: { type: 'opaque', description: "The pod template's extra labels and annotations." },
  },
} as const satisfies ObjectField;

const AUTOSCALING = {
  type: 'object',
  description:
    'An autoscaling/v2 HorizontalPodAutoscaler for the node pods on Kubernetes; the Deployment then leaves its ' +
    'replica count to the autoscaler (replicas still sets the processes of infergraph up).',
  required: ['maxReplicas'],
  properties: {
    minReplicas: { type: 'integer', minimum: 1, description: 'Fewest pods (default 1).' },
    maxReplicas: { type: 'integer', minimum: 1, description: 'Most pods.' },
    metrics: {
      type: 'opaque',
      description: "autoscaling/v2 MetricSpecs (default: Kubernetes' 80% average CPU utilisation).",
    },
    inFlightTarget: {
      type: 'integer',
      minimum: 1,
      description:
        'Scale on requests in flight, this many per pod on average: a Pods metric infergraph_node_in_flight_requests ' +
        '(needs a Prometheus adapter serving it), or with keda the executor-side infergraph_hop_in_flight_requests.',
    },
    keda: {
      type: 'object',
      description:
        'Render a KEDA ScaledObject (keda.sh/v1alpha1, prometheus trigger on infergraph_hop_in_flight_requests) instead of an HPA; needs inFlightTarget.',
      required: ['prometheusAddress'],
      properties: {
        prometheusAddress: {
          type: 'string',
          description: 'The Prometheus that scrapes the executor, e.g. http://prometheus.monitoring:9090.',
        },
        pollingInterval: {
          type: 'integer',
          minimum: 1,
          description: 'Seconds between KEDA queries (KEDA default 30).',
        },
        cooldownPeriod: { type: 'integer', minimum: 1, description: 'Seconds before scaling back (KEDA default 300).' },
      },
    },
  },
} as const satisfies ObjectField;

const RUNTIME = {
  type: 'object',
  description: 'How the node runs: message limits, environment, restarts, replicas and its Kubernetes pod.',
  properties: {
    maxMessageBytes: {
      type: 'integer',
      minimum: 1024,
      description: 'Limit for received and sent gRPC messages, bytes (default: spec.maxMessageBytes).',
    },
    maxConcurrency: {
      type: 'integer',
      minimum: 1,
      default: 16,
      description: "Calls the node's component host runs at once.",
    },
    maxQueue: {
      type: 'integer',
      minimum: 0,
      default: 64,
      description: 'Calls that may wait for a slot; beyond them RESOURCE_EXHAUSTED at once.',
    },
    placement: {
      type: 'string',
      enum: NODE_PLACEMENTS,
      default: 'process',
      description:
        'process: the node runs as its own process (pod on Kubernetes). executor: a built-in component runs inside ' +
        'the executor, with no process and no hop: less latency, no isolation (opt-in, for light nodes).',
    },
    ...POD_FIELDS,
    restart: {
      type: 'object',
      description: 'Restart policy of the local runner (`infergraph up`).',
      filled: true,
      properties: {
        maxRestarts: { type: 'integer', minimum: 0, default: 10, description: 'Restarts before the graph is stopped.' },
        initialBackoffMs: {
          type: 'integer',
          minimum: 1,
          default: 200,
          description: 'First restart delay, doubled each time.',
        },
        maxBackoffMs: { type: 'integer', minimum: 1, default: 10_000, description: 'Largest restart delay.' },
      },
    },
    volumes: {
      type: 'list',
      description: 'Kubernetes volumes of the node pod (a name plus one Kubernetes volume source each).',
      items: {
        type: 'opaque',
        description: 'A Kubernetes Volume: name plus one source (persistentVolumeClaim, configMap, secret, ...).',
        required: ['name'],
        properties: { name: { type: 'string', pattern: DNS_LABEL, maxLength: 63, description: 'Volume name.' } },
      },
    },
    volumeMounts: {
      type: 'list',
      description: 'Mounts of runtime.volumes into the node container.',
      items: VOLUME_MOUNT,
    },
    container: CONTAINER,
    autoscaling: AUTOSCALING,
    models: {
      type: 'object',
      description:
        'Where the node pod gets model files on Kubernetes, mounted at mountPath: generated synthetic models (an init ' +
        'container), a volume, or a model image copied into an emptyDir by an init container (KServe modelcar).',
      required: ['source'],
      properties: {
        source: { type: 'string', enum: MODEL_SOURCES, description: 'synthetic, volume or image.' },
        mountPath: { type: 'string', pattern: ABS_PATH, default: '/models', description: 'Where the models appear.' },
        volume: {
          type: 'string',
          pattern: DNS_LABEL,
          maxLength: 63,
          description: 'source volume: the name of one of runtime.volumes holding the models (mounted read-only).',
        },
        image: { type: 'string', description: 'source image: the model image (it needs a `cp`, e.g. busybox-based).' },
        path: { type: 'string', pattern: ABS_PATH, default: '/models', description: 'source image: folder inside it.' },
      },
    },
  },
} as const satisfies ObjectField;

export const LOGGER_MODES = ['request', 'response', 'all'] as const;
export type LoggerMode = (typeof LOGGER_MODES)[number];

/**
 * Payload logging (Seldon's and KServe's `logger`): the executor sends what enters and leaves the node (or the graph)
 * as CloudEvents to `url` (src/request-log). Without url, the executor's default sink: its --request-log-url or
 * REQUEST_LOGGER_DEFAULT_ENDPOINT (on Kubernetes, from the operator's configuration), or `up --log-requests FILE`.
 */
const LOGGER = {
  type: 'object',
  description:
    'Payload logging: requests and/or responses as CloudEvents (binary mode) POSTed to url, off the request path.',
  properties: {
    mode: {
      type: 'string',
      enum: LOGGER_MODES,
      default: 'all',
      description: 'request, response or all (both, joinable by ce-requestid = the puid).',
    },
    url: {
      type: 'string',
      pattern: { regex: '^https?://[^\\s]+$', means: 'an http:// or https:// URL' },
      description: "Where events are POSTed (default: the executor's default sink).",
    },
    maxPayloadBytes: {
      type: 'integer',
      minimum: 0,
      default: 1024 * 1024,
      description: "Largest payload logged whole (tensor data, binData bytes); beyond it cut, marked 'truncated'.",
    },
  },
} as const satisfies ObjectField;

const NODE = {
  type: 'object',
  description: 'A graph node (Seldon v1 vocabulary).',
  required: ['name', 'type'],
  properties: {
    name: { type: 'string', pattern: DNS_LABEL, maxLength: 63, description: 'Node name, a DNS-1123 label, unique.' },
    type: {
      type: 'string',
      enum: NODE_TYPES,
      description: 'MODEL, TRANSFORMER, OUTPUT_TRANSFORMER, COMBINER or ROUTER.',
    },
    implementation: {
      type: 'string',
      description: 'A built-in component name, or a module path relative to the manifest.',
    },
    parameters: {
      type: 'opaque',
      description:
        "Component parameters: a mapping, or Seldon's list of {name, value, type}; checked against the component.",
    },
    children: {
      type: 'list',
      description: 'Child nodes, called in parallel.',
      items: { type: 'node', description: 'A child node.' },
    },
    endpoint: {
      type: 'string',
      description:
        "An already running Seldon-protocol node, not spawned: host:port or unix:/path (gRPC), or http://host:port (Seldon's REST node API).",
    },
    runtime: RUNTIME,
    logger: { ...LOGGER, description: 'Payload logging of what enters and leaves this node (each hop to it).' },
  },
} as const satisfies ObjectField;

/**
 * One of several graphs the executor serves behind one address (Seldon's predictors): each request walks one live
 * predictor, chosen by traffic weight or pinned by the caller; each shadow gets a copy off the critical path.
 */
const PREDICTOR = {
  type: 'object',
  description: 'A predictor: a graph of its own nodes, its share of the requests, or a shadow copy of them.',
  required: ['name', 'graph'],
  properties: {
    name: {
      type: 'string',
      pattern: DNS_LABEL,
      maxLength: 63,
      description: "Predictor name, a DNS-1123 label, unique: metrics' predictor_name, the pin header's value.",
    },
    traffic: {
      type: 'integer',
      minimum: 0,
      maximum: 100,
      description:
        'Percent of requests this live predictor walks (live predictors sum to 100; a lone one takes all); on a ' +
        'shadow, the percent of requests copied to it (0 or absent: all, as Seldon mirrors).',
    },
    shadow: {
      type: 'boolean',
      default: false,
      description:
        'Gets a copy of requests off the critical path: its answer, latency and errors never reach the caller.',
    },
    labels: {
      type: 'map',
      keys: { regex: '^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$', noun: 'label' },
      values: { type: 'scalar', description: 'Label value.' },
      shape: 'name: value',
      description:
        "Kubernetes labels of the predictor's container nodes' pods (Seldon's predictor labels, e.g. version; " +
        'PREDICTOR_LABELS).',
    },
    graph: {
      type: 'node',
      // Every predictor's tree written out as deep as spec.graph's would double the CRD, near the 256 KiB a
      // client-side `kubectl apply` can annotate: deeper levels are checked by the operator's validator.
      crdLevels: 3,
      description: "The predictor's root node (node names unique across all predictors).",
    },
  },
} as const satisfies ObjectField;

export const MANIFEST_SCHEMA = {
  type: 'object',
  description: 'An inference graph.',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { type: 'string', description: 'infergraph.dev/v1alpha1' },
    kind: { type: 'string', description: 'InferenceGraph' },
    metadata: { type: 'opaque', description: 'Kubernetes object metadata; name is a DNS-1123 label.' },
    spec: {
      type: 'object',
      description: 'The graph and how it is served.',
      properties: {
        graph: { ...NODE, description: 'The root node (or predictors, for several graphs behind one executor).' },
        predictors: {
          type: 'list',
          description:
            'Instead of graph: several graphs behind one executor, the requests split between the live ones by ' +
            "traffic and copied to the shadows (Seldon's predictors, without a service mesh).",
          items: PREDICTOR,
        },
        shadowMaxInFlight: {
          type: 'integer',
          minimum: 1,
          default: 8,
          description:
            'Copies to each shadow predictor in flight at once; beyond it a copy is dropped and counted, never queued.',
        },
        deadlineMs: {
          type: 'integer',
          minimum: 1,
          default: 10_000,
          description: 'End-to-end deadline when the client sends none.',
        },
        codec: { type: 'string', enum: HOP_CODECS, default: 'tftensor', description: 'Tensor encoding on hops.' },
        hopTransport: {
          type: 'string',
          enum: HOP_TRANSPORTS,
          default: 'frames',
          description:
            'How the executor reaches the nodes infergraph up started: frames or grpc (endpoint: nodes and nodes ' +
            'without a frame listener, as on Kubernetes, always get gRPC).',
        },
        maxMessageBytes: {
          type: 'integer',
          minimum: 1024,
          default: 16 * 1024 * 1024,
          description: "Max message size on the executor's API and its node channels.",
        },
        tracing: {
          type: 'object',
          description: 'OpenTelemetry export of every process (the standard OTEL_* variables override it).',
          required: ['exporter'],
          properties: {
            exporter: { type: 'string', enum: TRACE_EXPORTERS, description: 'none, jaeger, otlp-grpc or otlp-http.' },
            endpoint: {
              type: 'string',
              description: 'OTLP http(s) URL, or a Jaeger collector URL or agent host:port.',
            },
            sampleRatio: {
              type: 'number',
              minimum: 0,
              maximum: 1,
              default: 1,
              description: 'Fraction of new traces sampled.',
            },
          },
        },
        maxInFlight: {
          type: 'integer',
          minimum: 1,
          default: 16,
          description: 'Requests the executor walks at once (both APIs); beyond it RESOURCE_EXHAUSTED at once.',
        },
        drainTimeoutMs: {
          type: 'integer',
          minimum: 0,
          default: 15_000,
          description: 'On SIGTERM, how long the executor lets in-flight requests finish before it stops.',
        },
        reflection: {
          type: 'boolean',
          default: true,
          description: 'gRPC server reflection on the executor and nodes.',
        },
        tls: {
          type: 'object',
          description:
            "TLS on the executor's public port (server) and/or mutual TLS between executor and nodes (hops).",
          properties: {
            server: {
              type: 'object',
              description: "The executor's public port: PEM files; clientCa makes it require client certificates.",
              required: ['cert', 'key'],
              properties: {
                cert: { type: 'string', description: 'Certificate chain (PEM), relative to the manifest.' },
                key: { type: 'string', description: 'Private key (PEM).' },
                clientCa: { type: 'string', description: 'CA bundle that client certificates must chain to (PEM).' },
              },
            },
            hops: {
              type: 'object',
              description: 'Mutual TLS between the executor and its nodes (gRPC hops).',
              required: ['ca', 'cert', 'key'],
              properties: {
                ca: { type: 'string', description: 'CA bundle both sides verify the other against (PEM).' },
                cert: { type: 'string', description: 'Certificate of the executor and nodes (PEM).' },
                key: { type: 'string', description: 'Private key (PEM).' },
              },
            },
          },
        },
        metrics: {
          type: 'object',
          description: 'Prometheus /metrics of every process.',
          filled: true,
          properties: {
            enabled: { type: 'boolean', default: true, description: 'Serve /metrics from every process.' },
            port: {
              type: 'integer',
              minimum: 1,
              maximum: 65535,
              default: 9464,
              description: "A standalone process's /metrics port (pods); infergraph up picks free ports.",
            },
          },
        },
        rest: {
          type: 'object',
          description: "The executor's REST front doors (Seldon /api/v1.0 and V2 /v2) on a port of their own.",
          filled: true,
          properties: {
            enabled: { type: 'boolean', default: true, description: 'Serve REST beside gRPC.' },
            port: {
              type: 'integer',
              minimum: 1,
              maximum: 65535,
              default: 8080,
              description: "A standalone executor's (a pod's) REST port; infergraph up uses its --rest-address.",
            },
            probes: {
              type: 'string',
              enum: ['grpc', 'http'],
              default: 'grpc',
              description:
                "The executor pod's Kubernetes probes: gRPC health (grpc) or HTTP GET /v2/health/ready and /live on the REST port (http).",
            },
          },
        },
        logger: { ...LOGGER, description: "Payload logging of the graph's requests and answers, at its front doors." },
        executor: {
          type: 'object',
          description: "The executor's pod on Kubernetes (locally the executor is one process).",
          properties: POD_FIELDS,
        },
      },
    },
  },
} as const satisfies ObjectField;

export const NODE_SCHEMA = NODE;
export const PREDICTOR_SCHEMA = PREDICTOR;
export const RUNTIME_SCHEMA = RUNTIME;
export const CONTAINER_SCHEMA = CONTAINER;
export const AUTOSCALING_SCHEMA = AUTOSCALING;
export const DNS_LABEL_PATTERN = DNS_LABEL;
export const LOGGER_SCHEMA = LOGGER;
