/**
 * Small helpers shared by the built-in components: typed parameter readers, cancellation checks and softmax.
 * Deliberately free of heavy imports (sharp, onnxruntime) so every built-in can use it.
 */
import { ConfigError, InferError, Code, deadlineExceeded } from '../../errors';
import type { ParamValue } from '../types';
import type { CallContext, ParamSchema } from '../api';

/**
 * Typed access to a component's parameters. Defaults live only in the component's schema (`definition.parameters`):
 * manifest validation applies them, and these readers apply the same ones again, so a component created directly
 * (tests, embedding, the in-process baseline) behaves the same. A wrong value becomes a ConfigError naming the
 * component and the parameter.
 */
export class Params {
  constructor(
    private readonly component: string,
    private readonly values: Record<string, ParamValue>,
    private readonly schema: Record<string, ParamSchema>,
  ) {}

  private bad(name: string, expected: string, got: unknown): ConfigError {
    return new ConfigError([`${this.component}: parameter '${name}' must be ${expected}, got ${JSON.stringify(got)}`]);
  }

  /** The given value, else the schema's default. */
  private raw(name: string): ParamValue | undefined {
    if (!Object.hasOwn(this.schema, name)) {
      throw new Error(`${this.component}: parameter '${name}' is not in its schema`);
    }
    return this.values[name] ?? this.schema[name]?.default;
  }

  has(name: string): boolean {
    const v = this.raw(name);
    return v !== undefined && v !== '';
  }

  string(name: string): string {
    const v = this.raw(name);
    if (v === undefined) throw new ConfigError([`${this.component}: parameter '${name}' is required`]);
    if (typeof v !== 'string') throw this.bad(name, 'a string', v);
    return v;
  }

  optionalString(name: string): string | undefined {
    return this.has(name) ? this.string(name) : undefined;
  }

  oneOf<T extends string>(name: string, choices: readonly T[]): T {
    const v = this.string(name);
    if (!(choices as readonly string[]).includes(v)) throw this.bad(name, `one of ${choices.join(', ')}`, v);
    return v as T;
  }

  number(name: string, min = -Infinity, max = Infinity): number {
    const raw = this.raw(name);
    const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      const range = min === -Infinity && max === Infinity ? '' : max === Infinity ? ` >= ${min}` : ` in ${min}..${max}`;
      throw this.bad(name, `a number${range}`, raw);
    }
    return v;
  }

  integer(name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.raw(name);
    const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
      throw this.bad(name, `an integer ${range}`, raw);
    }
    return v;
  }

  boolean(name: string): boolean {
    const v = this.raw(name);
    if (typeof v === 'boolean') return v;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw this.bad(name, 'true or false', v);
  }

  /** A comma-separated list of finite numbers, e.g. "0.485,0.456,0.406"; undefined when unset and no default. */
  numberList(name: string, length?: number): number[] | undefined {
    const raw = this.raw(name);
    if (raw === undefined || raw === '') return undefined;
    const parts =
      typeof raw === 'number' ? [raw] : typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : null;
    const nums = parts?.map((p) => (typeof p === 'number' ? p : p === '' ? NaN : Number(p)));
    const what = `a comma-separated list of ${length ?? ''}${length ? ' ' : ''}numbers`;
    if (!nums || nums.some((n) => !Number.isFinite(n))) throw this.bad(name, what, raw);
    if (length !== undefined && nums.length !== length) throw this.bad(name, what, raw);
    return nums;
  }
}

/**
 * Throws when the caller has gone (cancelled, or deadline passed), so a node does not start expensive work for
 * nobody. Used before work that blocks the event loop (onnxruntime-node runs inference on the JS thread).
 */
export function throwIfGone(ctx: CallContext, what: string): void {
  if (ctx.deadline !== undefined && Date.now() >= ctx.deadline) {
    throw deadlineExceeded(`${what}: deadline passed before the work started`);
  }
  if (ctx.signal.aborted) throw new InferError(Code.CANCELLED, `${what}: request cancelled before the work started`);
}

type FloatArray = Float32Array | Float64Array;

/** In-place, numerically stable softmax over each row of `rowLength` elements. */
export function softmaxRows(data: FloatArray, rowLength: number): void {
  if (rowLength <= 0) return;
  for (let start = 0; start < data.length; start += rowLength) {
    const end = start + rowLength;
    let max = -Infinity;
    for (let i = start; i < end; i++) {
      const v = data[i] as number;
      if (v > max) max = v;
    }
    let sum = 0;
    for (let i = start; i < end; i++) {
      const e = Math.exp((data[i] as number) - max);
      data[i] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let i = start; i < end; i++) data[i] = (data[i] as number) * inv;
  }
}
