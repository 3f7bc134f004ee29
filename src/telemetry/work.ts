import { SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { WorkRunner } from '../components/call-context';
import { codeName, toInferError } from '../errors';
import { nowHr } from './clock';

/**
 * ctx.work() with tracing on: each named unit of a component's real work (decode, ORT run, combine, argmax) is a
 * span under the node's server span, so the timeline separates compute from transport. A failure marks the span
 * with the status code the node will answer with.
 */
export function spanWork(tracer: Tracer, attributes: Record<string, string>): WorkRunner {
  return (name, fn, attrs) =>
    tracer.startActiveSpan(name, { startTime: nowHr(), attributes: { ...attributes, ...attrs } }, async (span) => {
      try {
        return await fn();
      } catch (err) {
        const e = toInferError(err);
        span.setAttribute('rpc.grpc.status_code', e.code);
        span.setStatus({ code: SpanStatusCode.ERROR, message: `${codeName(e.code)}: ${e.message}` });
        throw err;
      } finally {
        span.end(nowHr());
      }
    });
}
