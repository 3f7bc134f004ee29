import * as grpc from '@grpc/grpc-js';
import { toServiceError } from '../rpc/status';
import { PREVIOUS_ATTEMPTS_HEADER } from '../rpc/trailers';
import type { AdmissionDoor } from '../util/admission-door';

/**
 * Admits a call to the walk (Seldon Predict, V2 ModelInfer) as soon as its headers arrive, through the executor
 * limiter's door (src/util/admission-door.ts): before its message is read and decoded, so under overload a refusal
 * costs the executor little and the nodes keep the CPU (issues 11, 22). A retried call may wait there briefly for a
 * slot ahead of new calls; a new call beyond its connection's refusal rate waits for a slot or its refusal. The
 * handler's own Limiter.run stays the authority.
 */
export function admissionInterceptor(door: AdmissionDoor, paths: readonly string[]): grpc.ServerInterceptor {
  const guarded = new Set(paths);
  return (method, call) => {
    if (!guarded.has(method.path)) return new grpc.ServerInterceptingCall(call);
    let refused = false;
    let ended = false;
    /** The door counts a call it let in until its handler starts or it ends: exactly once. */
    let inside = false;
    let halfClosed = false;
    let withdraw = (): void => undefined;
    const connection = call.getPeer();
    const through = (): void => {
      if (inside) door.through();
      inside = false;
    };
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMd) {
            const deadline = call.getDeadline();
            const at = deadline instanceof Date ? deadline.getTime() : deadline;
            withdraw = door.knock(
              {
                retried: metadata.get(PREVIOUS_ATTEMPTS_HEADER).length > 0,
                connection,
                budgetMs: Number.isFinite(at) ? at - Date.now() : Infinity,
              },
              (why) => {
                if (ended) return;
                if (why === undefined) {
                  inside = true;
                  nextMd(metadata);
                  // A body that came in whole while the call waited: its handler started within nextMd.
                  if (halfClosed) through();
                  return;
                }
                refused = true;
                // The status carries the limiter's pushback (grpc-retry-pushback-ms): clients with a retry policy wait
                // that long instead of coming straight back, so a crowd of refused clients does not eat the nodes' CPU.
                const status = toServiceError(why);
                call.sendStatus({
                  code: why.code,
                  details: why.message,
                  metadata: status.metadata ?? new grpc.Metadata(),
                });
              },
            );
          },
          onReceiveMessage(message, nextMsg) {
            if (!refused) nextMsg(message);
          },
          onReceiveHalfClose(nextHc) {
            if (refused) return;
            halfClosed = true;
            through(); // the unary handler starts now (or when let in) and takes its slot in Limiter.run
            nextHc();
          },
          onCancel() {
            ended = true;
            withdraw();
            through();
          },
        });
      },
      sendStatus(status, next) {
        if (!refused && status.code === grpc.status.OK) door.answered(connection);
        ended = true;
        withdraw();
        through();
        next(status);
      },
    });
  };
}
