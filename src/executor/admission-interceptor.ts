import * as grpc from '@grpc/grpc-js';
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
            call.sendStatus({ code: why.code, details: why.message, metadata: new grpc.Metadata() });
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
