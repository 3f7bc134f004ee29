/**
 * onnx-model's cache of optimised graphs (issue 22: a model's restart was two thirds ONNX session creation).
 *
 * Creating a session parses the .onnx protobuf (ResNet-50: 100 MB), copies every weight and optimises the graph
 * (`graphOptimization: all`): ~1.1 s of CPU for ResNet-50, ~0.7 s for DenseNet-169. onnxruntime can write the graph
 * it optimised (`optimizedModelFilePath`); written with its weights in a separate file (external initializers),
 * that graph loads with optimisation off in ~0.1 s, because onnxruntime maps the weights file into memory instead of
 * parsing and copying it. The outputs are bit-identical (the same optimised graph runs the same kernels; checked by
 * test/unit/components/onnx-session-cache.test.ts and, for the example models, by bench/onnx-cache.ts).
 *
 * An entry is a folder `<dir>/<key>/` holding `model.onnx`, `model.onnx.data` (when the model has weights) and
 * `meta.json`, written last, with the size of each file. The key hashes everything the optimised graph depends on:
 * the source file's identity (real path, device, inode, size, modification time), onnxruntime's version,
 * the session options, the CPU (with `all`, onnxruntime picks layouts and kernels for this CPU's instruction set) and
 * the platform. A changed model file thus gets a new key; the entries of older versions of the same file are removed
 * when the new one is written. An entry whose files do not have the sizes its meta.json records, or that onnxruntime
 * cannot load, is removed and rebuilt. Entries are built in a temporary folder and renamed into place, so a reader
 * never sees a half-written one, and a file onnxruntime has mapped is never rewritten. The cache folder is used only
 * if this user owns it and nobody else can write to it (a planted graph would run as the model). Anything that goes
 * wrong with the cache (read-only folder, full disk, a foreign owner) leaves the model loading as it would without it.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as ort from 'onnxruntime-node';

const FORMAT = 1;
const MODEL_FILE = 'model.onnx';
const DATA_FILE = 'model.onnx.data';
const META_FILE = 'meta.json';
/** Weights at least this large go to the mapped data file (smaller ones stay in the graph). */
const EXTERNAL_MIN_BYTES = 1024;
/** A build folder left this long (its process died mid-write) is removed by the next build. */
const STALE_BUILD_MS = 60 * 60_000;

/** What a session creation did with the cache, for the load log line and the start-up breakdown. */
export type CacheOutcome =
  { state: 'hit'; entry: string } | { state: 'built'; entry: string } | { state: 'off'; reason: string };

export interface CachedSession {
  session: ort.InferenceSession;
  cache: CacheOutcome;
}

export type CreateSession = (
  file: string,
  options: ort.InferenceSession.SessionOptions,
) => Promise<ort.InferenceSession>;

interface EntryMeta {
  format: number;
  source: string;
  /** sizes of the entry's files */
  files: Record<string, number>;
}

/**
 * The cache folder from onnx-model's `sessionCache` parameter: 'off'; a folder (absolute, or relative to
 * `baseDir`, the manifest's folder); or 'auto': INFERGRAPH_ONNX_CACHE if set ('off' or a folder), else
 * `$XDG_CACHE_HOME/infergraph/onnxruntime`, else `~/.cache/infergraph/onnxruntime`.
 */
export function cacheDirFor(
  setting: string,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const chosen = setting === 'auto' ? (env.INFERGRAPH_ONNX_CACHE ?? '') : setting;
  if (chosen === 'off') return undefined;
  if (chosen !== '') return path.resolve(baseDir, chosen);
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  return path.join(base, 'infergraph', 'onnxruntime');
}

/** The CPU's model and instruction-set flags (Linux: /proc/cpuinfo's first processor), else os.cpus()'s model. */
function cpuIdentity(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const first = info.split(/\n\s*\n/)[0] ?? '';
    const field = (name: string): string => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(first)?.[1] ?? '';
    const flags = field('flags') || field('Features') || field('isa');
    if (flags) return `${field('model name') || field('CPU part')}|${flags}`;
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

/** The entry's key: what the optimised graph depends on. */
export function cacheKey(model: string, options: ort.InferenceSession.SessionOptions, ortVersion: string): string {
  const real = realpathSync(model);
  const st = statSync(real, { bigint: true });
  const parts = {
    format: FORMAT,
    source: real,
    // Not the change time: a new hard link to the file (another work tree, a container layer) changes it.
    file: [st.dev, st.ino, st.size, st.mtimeNs].map(String),
    ort: ortVersion,
    options,
    cpu: cpuIdentity(),
    platform: `${process.platform}-${process.arch}`,
  };
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/** Creates the folder (0700) if need be; undefined if it is usable, else why not. */
function unusable(dir: string): string | undefined {
  try {
    // The folder itself without `recursive`: on a file system that refuses it with ENOENT (procfs), Node's recursive
    // mkdir retries forever.
    mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const st = statSync(dir);
    if (!st.isDirectory()) return `${dir} is not a folder`;
    if (typeof process.getuid === 'function' && st.uid !== process.getuid())
      return `${dir} belongs to another user (uid ${st.uid})`;
    if ((st.mode & 0o022) !== 0) return `${dir} is writable by others (mode ${(st.mode & 0o777).toString(8)})`;
    return undefined;
  } catch (err) {
    return `cannot use ${dir}: ${(err as Error).message}`;
  }
}

function readMeta(entry: string): EntryMeta | undefined {
  try {
    const meta = JSON.parse(readFileSync(path.join(entry, META_FILE), 'utf8')) as EntryMeta;
    if (meta.format !== FORMAT || typeof meta.files !== 'object' || meta.files === null) return undefined;
    if (!(MODEL_FILE in meta.files)) return undefined;
    for (const [name, size] of Object.entries(meta.files)) {
      if (statSync(path.join(entry, name)).size !== size) return undefined;
    }
    return meta;
  } catch {
    return undefined;
  }
}

const withoutOptimisation = (o: ort.InferenceSession.SessionOptions): ort.InferenceSession.SessionOptions => ({
  ...o,
  graphOptimizationLevel: 'disabled',
});

/** The options that make onnxruntime write the optimised graph to `file`, its weights beside it. */
function savingTo(o: ort.InferenceSession.SessionOptions, file: string): ort.InferenceSession.SessionOptions {
  const extra = o.extra ?? {};
  const session = (extra.session ?? {}) as Record<string, unknown>;
  return {
    ...o,
    optimizedModelFilePath: file,
    extra: {
      ...extra,
      session: {
        ...session,
        optimized_model_external_initializers_file_name: DATA_FILE,
        optimized_model_external_initializers_min_size_in_bytes: String(EXTERNAL_MIN_BYTES),
      },
    },
  };
}

function fsyncFile(file: string): void {
  const fd = openSync(file, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes the other entries of the same source file (older versions of it), entries whose source file is gone (a
 * test's temporary model), and build folders left by dead builds.
 */
function prune(dir: string, keep: string, source: string): void {
  for (const name of safeReaddir(dir)) {
    const p = path.join(dir, name);
    if (name === keep) continue;
    try {
      if (name.startsWith('.build-')) {
        if (Date.now() - statSync(p).mtimeMs > STALE_BUILD_MS) rmSync(p, { recursive: true, force: true });
        continue;
      }
      const meta = JSON.parse(readFileSync(path.join(p, META_FILE), 'utf8')) as Partial<EntryMeta>;
      if (meta.source === source || (typeof meta.source === 'string' && !existsSync(meta.source)))
        rmSync(p, { recursive: true, force: true });
    } catch {
      // not an entry of ours, or being written: leave it
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * A session for `model` with `options`, through the cache in `dir` (undefined: no cache). A hit loads the cached
 * optimised graph with optimisation off. A miss creates the session from the model as usual and, if `write`, has
 * onnxruntime write the optimised graph into a new entry on the way. Never fails because of the cache: any cache
 * problem falls back to creating the session from the model.
 */
export async function createCachedSession(
  create: CreateSession,
  model: string,
  options: ort.InferenceSession.SessionOptions,
  opts: { dir: string | undefined; write: boolean; ortVersion: string },
): Promise<CachedSession> {
  const plain = async (reason: string): Promise<CachedSession> => ({
    session: await create(model, options),
    cache: { state: 'off', reason },
  });
  if (opts.dir === undefined) return plain('sessionCache off');
  const { dir } = opts;
  let key: string;
  try {
    key = cacheKey(model, options, opts.ortVersion);
  } catch (err) {
    return plain(`cannot identify ${model}: ${(err as Error).message}`);
  }
  const entry = path.join(dir, key);
  const meta = readMeta(entry);
  let dropped = '';
  if (meta) {
    try {
      return {
        session: await create(path.join(entry, MODEL_FILE), withoutOptimisation(options)),
        cache: { state: 'hit', entry },
      };
    } catch (err) {
      dropped = `cached graph ${entry} did not load (${(err as Error).message.split('\n')[0]}); rebuilt. `;
    }
  }
  if (!opts.write) return plain(`${dropped}no entry yet (another instance writes it)`);
  const why = unusable(dir);
  if (why !== undefined) return plain(dropped + why);
  // Remove a bad entry only after the folder proved ours: a foreign folder's contents are not ours to delete.
  rmSync(entry, { recursive: true, force: true });
  let build: string;
  try {
    build = mkdtempSync(path.join(dir, '.build-'));
  } catch (err) {
    return plain(`${dropped}cannot write to ${dir}: ${(err as Error).message}`);
  }
  let session: ort.InferenceSession;
  try {
    session = await create(model, savingTo(options, path.join(build, MODEL_FILE)));
  } catch {
    // Perhaps the write failed (disk full): the plain creation says whether the model itself is at fault.
    rmSync(build, { recursive: true, force: true });
    return plain(`${dropped}onnxruntime could not write the optimised graph to ${dir}`);
  }
  try {
    const files: Record<string, number> = {};
    for (const name of [MODEL_FILE, DATA_FILE]) {
      const file = path.join(build, name);
      try {
        files[name] = statSync(file).size;
      } catch {
        continue; // no weights large enough for the data file
      }
      fsyncFile(file);
    }
    if (!(MODEL_FILE in files)) throw new Error('onnxruntime wrote no optimised graph');
    const source = realpathSync(model);
    writeFileSync(path.join(build, META_FILE), JSON.stringify({ format: FORMAT, source, files } satisfies EntryMeta));
    try {
      renameSync(build, entry);
    } catch {
      rmSync(build, { recursive: true, force: true }); // another process wrote the same entry first
    }
    prune(dir, key, source);
    return { session, cache: { state: 'built', entry } };
  } catch (err) {
    rmSync(build, { recursive: true, force: true });
    return { session, cache: { state: 'off', reason: `${dropped}not cached: ${(err as Error).message}` } };
  }
}
