import * as grpc from '@grpc/grpc-js';
import { toServiceError } from '../rpc/status';
import type { Limiter } from '../util/limiter';

/**
 * Refuses a call to the walk (Seldon Predict, V2 ModelInfer) as soon as its headers arrive when the executor is
 * already at spec.maxInFlight: before its message is read and decoded, so under overload a refusal costs the
 * executor next to nothing and the nodes keep the CPU (issue 11). The handler's own Limiter.run stays the authority;
 * this is only the cheap early path, and it consumes no slot.
 */
export function admissionInterceptor(limiter: Limiter, paths: readonly string[]): grpc.ServerInterceptor {
  const guarded = new Set(paths);
  return (method, call) => {
    if (!guarded.has(method.path)) return new grpc.ServerInterceptingCall(call);
    let refused = false;
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMd) {
            const why = limiter.refusal();
            if (why === undefined) return nextMd(metadata);
            refused = true;
            // The status carries the limiter's pushback (grpc-retry-pushback-ms): clients with a retry policy wait that
            // long instead of coming straight back, so a crowd of refused clients does not eat the nodes' CPU.
            const status = toServiceError(why);
            call.sendStatus({ code: why.code, details: why.message, metadata: status.metadata ?? new grpc.Metadata() });
          },
          onReceiveMessage(message, nextMsg) {
            if (!refused) nextMsg(message);
          },
          onReceiveHalfClose(nextHc) {
            if (!refused) nextHc();
          },
        });
      },
    });
  };
}
