import path from 'node:path';
import { ConfigError } from '../errors';
import { isObj } from '../graph/check';
import { parseManifestYaml, readManifestText, validateManifest, type ValidateOptions } from '../graph/manifest';
import type { GraphSpec } from '../graph/spec';
import { convertSeldonDeployment } from './convert';
import { SeldonProblems } from './problems';
import type { ServerTable } from './servers';
import type { Json, SeldonDeployment } from './types';
import { isSeldonDeployment, validateSeldonDeployment } from './validate';

/**
 * Every command that reads a manifest reads it here: an InferenceGraph as before, or a SeldonDeployment, validated
 * and converted to one InferenceGraph per predictor. The dispatch on `kind` lives outside src/graph, which must not
 * know about Seldon's deployment surface.
 */

export interface LoadedGraph {
  graph: GraphSpec;
  /** The InferenceGraph as written, or as converted: what render puts in the ConfigMap and convert prints. */
  manifest: { apiVersion: string; kind: string; metadata: Json; spec: unknown };
}

export interface Loaded {
  graphs: LoadedGraph[];
  /** Set when the file is a SeldonDeployment. */
  seldon?: SeldonDeployment;
  warnings: string[];
}

export interface LoadOptions extends ValidateOptions {
  servers?: ServerTable;
}

export function loadAnyManifestFile(file: string, opts: LoadOptions = {}): Loaded {
  return parseAnyManifest(readManifestText(file), path.dirname(path.resolve(file)), file, opts);
}

export function parseAnyManifest(text: string, baseDir: string, source: string, opts: LoadOptions = {}): Loaded {
  const doc = parseManifestYaml(text, source);
  if (isSeldonDeployment(doc)) return loadSeldonDeployment(doc, baseDir, source, opts);
  const graph = validateManifest(doc, baseDir, source, opts);
  const d = doc as Json;
  const manifest = {
    apiVersion: String(d.apiVersion),
    kind: String(d.kind),
    metadata: isObj(d.metadata) ? d.metadata : {},
    spec: d.spec,
  };
  return { graphs: [{ graph, manifest }], warnings: [] };
}

export function loadSeldonDeployment(doc: unknown, baseDir: string, source: string, opts: LoadOptions = {}): Loaded {
  const p = new SeldonProblems();
  const seldon = validateSeldonDeployment(doc, p);
  const manifests = seldon ? convertSeldonDeployment(seldon, p, { servers: opts.servers }) : [];
  if (p.list.length || !seldon) throw new ConfigError(p.list.map((x) => `${source}: ${x}`));
  // Every check of a SeldonDeployment is above; this one catches a conversion that infergraph itself would refuse.
  const graphs = manifests.map((m) => {
    const meta = m.metadata as Json;
    const graph = validateManifest(m, baseDir, `${source} (predictor ${String(meta.name)})`, {
      ...opts,
      skipModuleFiles: true,
    });
    return {
      graph,
      manifest: { apiVersion: String(m.apiVersion), kind: String(m.kind), metadata: meta, spec: m.spec },
    };
  });
  return { graphs, seldon, warnings: p.warnings.map((w) => `${source}: ${w}`) };
}
