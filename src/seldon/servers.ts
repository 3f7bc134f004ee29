import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors';
import { isObj } from '../graph/check';

/**
 * Prepackaged model servers (`implementation: SKLEARN_SERVER` ...): the image table in the shape of Seldon's
 * `predictor_servers` configuration (the seldon-config ConfigMap, helm value `predictor_servers`), so a cluster's own
 * table can be passed as it is (`--servers FILE`, JSON or YAML). The defaults are Seldon Core 1.17.1's chart values.
 */

export interface ServerImage {
  image: string;
  defaultImageVersion?: string;
}

/** Seldon keys a server's images by protocol: seldon, v2 (kfserving is its former name), tensorflow. */
export interface ServerConfig {
  protocols: Partial<Record<string, ServerImage>>;
}

export type ServerTable = Record<string, ServerConfig>;

const SELDON_VERSION = '1.17.1';
const MLSERVER = '1.3.5';

export const DEFAULT_SERVERS: ServerTable = {
  SKLEARN_SERVER: {
    protocols: {
      seldon: { image: 'seldonio/sklearnserver', defaultImageVersion: SELDON_VERSION },
      v2: { image: 'seldonio/mlserver', defaultImageVersion: `${MLSERVER}-sklearn` },
    },
  },
  XGBOOST_SERVER: {
    protocols: {
      seldon: { image: 'seldonio/xgboostserver', defaultImageVersion: SELDON_VERSION },
      v2: { image: 'seldonio/mlserver', defaultImageVersion: `${MLSERVER}-xgboost` },
    },
  },
  MLFLOW_SERVER: {
    protocols: {
      seldon: { image: 'seldonio/mlflowserver', defaultImageVersion: SELDON_VERSION },
      v2: { image: 'seldonio/mlserver', defaultImageVersion: `${MLSERVER}-mlflow` },
    },
  },
  TENSORFLOW_SERVER: {
    protocols: {
      seldon: { image: 'seldonio/tfserving-proxy', defaultImageVersion: SELDON_VERSION },
      tensorflow: { image: 'tensorflow/serving', defaultImageVersion: '2.1.0' },
    },
  },
  TRITON_SERVER: { protocols: { v2: { image: 'nvcr.io/nvidia/tritonserver', defaultImageVersion: '21.08-py3' } } },
  HUGGINGFACE_SERVER: {
    protocols: { v2: { image: 'seldonio/mlserver', defaultImageVersion: `${MLSERVER}-huggingface` } },
  },
  TEMPO_SERVER: { protocols: { v2: { image: 'seldonio/mlserver', defaultImageVersion: `${MLSERVER}-slim` } } },
};

/** Seldon's own implementations that are not model servers (IsPrepack is false for them). */
export const SELDON_BUILTINS = ['SIMPLE_MODEL', 'SIMPLE_ROUTER', 'RANDOM_ABTEST', 'AVERAGE_COMBINER'] as const;

/** TF Serving's ports inside the pod of TENSORFLOW_SERVER's proxy (Seldon's TfServingGrpcPort / RestPort). */
export const TFSERVING = { container: 'tfserving', grpcPort: 2000, restPort: 2001 } as const;

export const imageOf = (s: ServerImage): string =>
  s.defaultImageVersion ? `${s.image}:${s.defaultImageVersion}` : s.image;

/** A `predictor_servers` table from a file (the ConfigMap's JSON value, or the helm values' YAML), merged over ours. */
export function loadServerTable(file: string): ServerTable {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError([`${file}: cannot read the server table: ${(err as Error).message}`]);
  }
  if (isObj(raw) && isObj(raw.predictor_servers)) raw = raw.predictor_servers;
  const problems: string[] = [];
  const out: ServerTable = { ...DEFAULT_SERVERS };
  if (!isObj(raw)) throw new ConfigError([`${file}: must be a mapping of server name to {protocols: {...}}`]);
  for (const [name, cfg] of Object.entries(raw)) {
    const protocols = isObj(cfg) && isObj(cfg.protocols) ? cfg.protocols : undefined;
    if (!protocols) {
      problems.push(`${file}: ${name}: needs protocols: {seldon|v2|tensorflow: {image, defaultImageVersion}}`);
      continue;
    }
    const entry: ServerConfig = { protocols: {} };
    for (const [proto, img] of Object.entries(protocols)) {
      if (!isObj(img) || typeof img.image !== 'string' || img.image === '') {
        problems.push(`${file}: ${name}.protocols.${proto}: needs image (a string)`);
        continue;
      }
      const v = img.defaultImageVersion;
      entry.protocols[proto === 'kfserving' ? 'v2' : proto] = {
        image: img.image,
        ...(v === undefined || v === '' ? {} : { defaultImageVersion: typeof v === 'string' ? v : JSON.stringify(v) }),
      };
    }
    out[name] = entry;
  }
  if (problems.length) throw new ConfigError(problems);
  return out;
}
