import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { SeldonClient } from '../../client/seldon-client';
import { DEFAULTS } from '../../graph/manifest';
import type { InferMessage, Payload } from '../../message/message';
import { TIMELINE_HEADER, TIMELINE_TAG } from '../../telemetry/timeline';
import { parseTimeline, renderWaterfall } from '../../telemetry/waterfall';
import { isDType } from '../../tensor/dtype';
import { parseNpy } from '../../tensor/npy';
import { fromNumbers, toNumbers, type Tensor } from '../../tensor/tensor';
import { percentile } from '../../util/stats';
import { intFlag, usageError } from '../flags';

/** `infergraph predict`: one request (or --repeat N of them) to a running graph, with the round-trip time. */

export function loadTensorFile(file: string): Tensor {
  const buf = readFileSync(file);
  if (file.endsWith('.npy')) return parseNpy(buf, file);
  const j = JSON.parse(buf.toString('utf8')) as unknown;
  // Either {"dtype": "float32", "shape": [...], "data": [...]} or a nested list (float32).
  if (j && typeof j === 'object' && !Array.isArray(j)) {
    const o = j as { dtype?: string; shape?: number[]; data?: unknown[] };
    const dtype = o.dtype ?? 'float32';
    if (!isDType(dtype) || dtype === 'string') throw new Error(`${file}: unsupported dtype '${dtype}'`);
    const data = (o.data ?? []).flat(Infinity) as number[];
    return fromNumbers(dtype, o.shape ?? [data.length], data);
  }
  if (!Array.isArray(j)) throw new Error(`${file}: expected a JSON object {dtype, shape, data} or a nested list`);
  const shape: number[] = [];
  for (let p: unknown = j; Array.isArray(p); p = p[0]) shape.push(p.length);
  return fromNumbers('float32', shape, j.flat(Infinity) as number[]);
}

interface Prediction {
  index: number;
  score: number;
  label?: string;
  wnid?: string;
  topK?: Prediction[];
}

/** A top1-output answer as one line per image: label (or index), index, score; the synthetic warning if any. */
function classification(data: unknown): string | undefined {
  const d = data as { predictions?: Prediction[]; note?: string } | null;
  if (!d || !Array.isArray(d.predictions) || d.predictions.some((x) => typeof x?.index !== 'number')) return undefined;
  const one = (x: Prediction): string =>
    `${x.label ?? `class ${x.index}`} (index ${x.index}${x.wnid ? `, ${x.wnid}` : ''}, score ${x.score.toFixed(4)})`;
  const lines = d.predictions.map((x, i) => {
    const rest = (x.topK ?? []).slice(1).map(one);
    return `${d.predictions!.length > 1 ? `[${i}] ` : ''}top-1: ${one(x)}${rest.length ? `\n  then: ${rest.join('; ')}` : ''}`;
  });
  if (d.note) lines.push(`note: ${d.note}`);
  return lines.join('\n');
}

export function describeReply(m: InferMessage): string {
  const p = m.payload;
  const lines: string[] = [];
  if (p.kind === 'json') {
    const summary = classification(p.data);
    lines.push(summary ?? JSON.stringify(p.data, null, 2));
  } else if (p.kind === 'tensor') {
    const vals =
      p.tensor.dtype === 'string'
        ? p.tensor.data.slice(0, 8).map((b) => Buffer.from(b).toString())
        : toNumbers(p.tensor).slice(0, 8);
    lines.push(
      `tensor ${p.tensor.dtype} [${p.tensor.shape.join(',')}]: ${vals.join(', ')}${p.tensor.data.length > 8 ? ', …' : ''}`,
    );
  } else if (p.kind === 'str') lines.push(p.data);
  else if (p.kind === 'bin') lines.push(`binData ${p.data.byteLength} bytes`);
  if (Object.keys(m.meta.tags).length) lines.push(`tags: ${JSON.stringify(m.meta.tags)}`);
  lines.push(`puid: ${m.meta.puid}`);
  return lines.join('\n');
}

interface PredictFlags {
  addr: string;
  image?: string;
  tensor?: string;
  timeout: string;
  repeat: string;
  json?: boolean;
  trace?: boolean;
  maxMessageBytes: string;
}

const MAX_MESSAGE_DEFAULT = String(DEFAULTS.maxMessageBytes);

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('send one request to a running graph and print the answer and round-trip time')
    .requiredOption('--addr <host:port>', 'executor address')
    .option('--image <file>', 'image file sent as binData (JPEG, PNG, WebP)')
    .option('--tensor <file>', 'tensor from .npy or JSON ({dtype, shape, data} or nested list)')
    .option('--timeout <ms>', 'deadline for the request', '30000')
    .option('--repeat <n>', 'send the request n times sequentially and print latency percentiles', '1')
    .option('--json', 'print the reply as JSON')
    .option('--trace', "print the (last) request's per-hop waterfall: start, duration, compute vs transport")
    .option('--max-message-bytes <n>', "largest request or reply (the graph's maxMessageBytes)", MAX_MESSAGE_DEFAULT)
    .action(async (o: PredictFlags) => {
      if (!!o.image === !!o.tensor) throw usageError('give exactly one of --image or --tensor');
      const timeoutMs = intFlag('--timeout', o.timeout, { min: 1 });
      const n = intFlag('--repeat', o.repeat, { min: 1 });
      const maxMessageBytes = intFlag('--max-message-bytes', o.maxMessageBytes, { min: 1024 });
      const payload: Payload = o.image
        ? { kind: 'bin', data: readFileSync(o.image) }
        : { kind: 'tensor', tensor: loadTensorFile(o.tensor as string) };
      const client = new SeldonClient(o.addr, { maxMessageBytes });
      const times: number[] = [];
      let reply: InferMessage | undefined;
      try {
        for (let i = 0; i < n; i++) {
          // Only the last request asks for its timeline, so --repeat percentiles stay those of plain requests.
          const metadata = new grpc.Metadata();
          if (o.trace && i === n - 1) metadata.set(TIMELINE_HEADER, '1');
          const t0 = performance.now();
          reply = await client.predict(payload, { timeoutMs, metadata });
          times.push(performance.now() - t0);
        }
      } finally {
        client.close();
      }
      if (!reply) return;
      const timelineTag = reply.meta.tags[TIMELINE_TAG];
      if (o.json)
        console.log(
          JSON.stringify(
            { payload: reply.payload.kind === 'json' ? reply.payload.data : reply.payload.kind, meta: reply.meta },
            null,
            2,
          ),
        );
      else {
        const { [TIMELINE_TAG]: _timeline, ...tags } = reply.meta.tags;
        console.log(describeReply({ ...reply, meta: { ...reply.meta, tags } }));
      }
      if (o.trace && !o.json) {
        const timeline = parseTimeline(timelineTag);
        const traceId = reply.meta.tags.trace_id;
        if (timeline)
          console.log(renderWaterfall(timeline, { traceId: typeof traceId === 'string' ? traceId : undefined }));
        else
          console.log(
            'no timeline in the reply: the executor is older than predict --trace, or sits behind something that drops meta tags',
          );
      }
      if (n === 1) console.log(`round trip: ${(times[0] as number).toFixed(2)} ms`);
      else {
        const s = [...times].sort((a, b) => a - b);
        console.log(
          `round trip over ${n} requests (concurrency 1): median ${percentile(s, 50).toFixed(2)} ms, p90 ${percentile(s, 90).toFixed(2)} ms, p99 ${percentile(s, 99).toFixed(2)} ms, min ${(s[0] as number).toFixed(2)} ms`,
        );
      }
    });
}
