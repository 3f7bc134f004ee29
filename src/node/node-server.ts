import * as grpc from '@grpc/grpc-js';
import type { WorkRunner } from '../components/call-context';
import { Code, InferError, invalidArgument, toInferError } from '../errors';
import type { GraphSpec, NodeSpec, NodeType } from '../graph/spec';
import type { NodeMethod } from '../hop/vocabulary';
import { emptyMeta, type InferMessage, type Meta, type Payload, type TensorEncoding } from '../message/message';
import { decodeFlatMessage, decodeFlatMessageList, encodeFlatMessage } from '../protocol/flatbuffers/codec';
import { FLAT_RPC_METHOD, FLAT_RPCS, FLAT_SERVICE, flatNodeService } from '../protocol/flatbuffers/service';
import { hopServerWire, seldonEncoding } from '../protocol/hop-codec';
import { modelMetadataToWire } from '../protocol/seldon/metadata';
import { seldonProto, serviceDefinition, type SeldonServiceName } from '../protocol/seldon/proto-loader';
import { feedbackFromWire, type WireFeedback } from '../protocol/seldon/feedback';
import { fromWire, toWire } from '../protocol/seldon/seldon-message';
import type { WireSeldonMessage, WireSeldonMessageList } from '../protocol/seldon/wire-types';
import { callScope } from '../rpc/call-scope';
import { bind, createServer, openSessions, shutdown, stopAccepting } from '../rpc/server';
import { toServiceError } from '../rpc/status';
import { nodeServerCredentials } from '../rpc/tls';
import { COMPUTE_TRAILER } from '../rpc/trailers';
import { listenFrames, type FrameHandler, type RunningFrameServer } from '../transport/server';
import type { FrameServerTracer } from '../transport/tracing';
import type { Logger } from '../util/logger';
import type { Limiter } from '../util/limiter';
import { ComponentHost } from './component-host';
import { startupMark } from '../util/startup-marks';
import { hopLimitBytes } from '../protocol/hop-envelope';

/**
 * The node runtime's gRPC front end: serves one ComponentHost behind the Seldon services its node type needs (plus
 * Generic and infergraph.v1.FlatBuffersNode), health and reflection. Requests are decoded to internal messages and
 * handed to the host; the reply carries only what this node added to meta (the executor merges), and the host's
 * compute time goes back in a trailer so the executor and the bench can split compute from transport.
 */

const TYPE_SERVICE: Record<NodeType, SeldonServiceName> = {
  MODEL: 'Model',
  TRANSFORMER: 'Transformer',
  OUTPUT_TRANSFORMER: 'OutputTransformer',
  COMBINER: 'Combiner',
  ROUTER: 'Router',
};

export interface NodeServerOptions {
  graph: GraphSpec;
  node: NodeSpec;
  /**
   * The node's component, already being created (the `node` command starts it before it loads this server's code, so
   * a model's session is made in its worker thread while the main thread loads gRPC); absent: created here.
   */
  host?: Promise<ComponentHost>;
  address: string;
  logger: Logger;
  /** Tracing hooks this in to turn ctx.work() into spans. */
  work?: WorkRunner;
  /** Tracing's server interceptors (continue the executor's trace, open the node's server span). */
  serverInterceptors?: grpc.ServerInterceptor[];
  /** Metrics (src/telemetry/graph-metrics.ts): wraps each service implementation where the node adds it. */
  meterService?: <I extends grpc.UntypedServiceImplementation>(definition: grpc.ServiceDefinition, impl: I) => I;
  /** Metrics of framed calls, per method path: the same series as the gRPC handlers' (meterService). */
  frameMeter?: (methodPath: string) => CallMeter;
  /** Also listen for the framed hop transport here (src/transport): unix:/path or host:port. */
  framesAddress?: string;
  /** Tracing of framed calls: the same server spans as the interceptors open for gRPC calls. */
  frameTracer?: FrameServerTracer;
  /** Metrics: reads the component host's call queue counts at scrape time. */
  onAdmission?: (admission: Limiter) => void;
}

/** What a metrics front end needs to hear of one call: its start, and its status, duration and compute time. */
export interface CallMeter {
  start(): void;
  end(code: number, seconds: number, trailer: undefined, computeUs?: number): void;
}

export interface RunningNode {
  address: string;
  /** where the node listens for frames, when it does */
  framesAddress?: string;
  close(): Promise<void>;
}

export async function startNodeServer(opts: NodeServerOptions): Promise<RunningNode> {
  const { node, graph, logger } = opts;
  const hosting = opts.host ?? ComponentHost.create(graph, node, { logger, ...(opts.work ? { work: opts.work } : {}) });
  const service = TYPE_SERVICE[node.type];
  // Both directions: the node's limit plus the envelope the executor adds (src/protocol/hop-envelope.ts).
  const hopLimit = hopLimitBytes(graph, node);
  // Made before the component is awaited (protocol descriptors, reflection: tens of ms), while a model's worker
  // thread may still be making its session.
  const bundle = createServer({
    maxMessageBytes: hopLimit,
    services: [`seldon.protos.${service}`, 'seldon.protos.Generic', FLAT_SERVICE],
    reflect: graph.reflection ? seldonProto().def : undefined,
    interceptors: opts.serverInterceptors,
  });
  const host = await hosting;
  startupMark('component');
  opts.onAdmission?.(host.admission);
  const add = (definition: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation): void =>
    bundle.server.addService(definition, opts.meterService ? opts.meterService(definition, impl) : impl);
  const h = new Handlers(host, seldonEncoding(graph.codec));
  const typed: grpc.UntypedServiceImplementation = {};
  const generic: grpc.UntypedServiceImplementation = {
    TransformInput: h.unary('transformInput'),
    TransformOutput: h.unary('transformOutput'),
    Route: h.unary('route'),
    Aggregate: h.aggregate(),
    SendFeedback: h.feedback(),
  };
  if (service === 'Model') {
    typed.Predict = h.unary('predict');
    typed.SendFeedback = generic.SendFeedback as grpc.UntypedHandleCall;
    typed.Metadata = h.metadata();
  } else if (service === 'Transformer') {
    typed.TransformInput = generic.TransformInput as grpc.UntypedHandleCall;
    typed.Metadata = h.metadata();
  } else if (service === 'OutputTransformer') {
    typed.TransformOutput = generic.TransformOutput as grpc.UntypedHandleCall;
  } else if (service === 'Combiner') {
    typed.Aggregate = generic.Aggregate as grpc.UntypedHandleCall;
  } else {
    typed.Route = generic.Route as grpc.UntypedHandleCall;
    typed.SendFeedback = generic.SendFeedback as grpc.UntypedHandleCall;
  }
  add(serviceDefinition(service), typed);
  add(serviceDefinition('Generic'), generic);
  // Always served, whatever the manifest's codec: the executor picks the codec, nodes speak both.
  add(flatNodeService(), Object.fromEntries(FLAT_RPCS.map((rpc) => [rpc, h.flat(FLAT_RPC_METHOD[rpc])])));
  const address = await bind(bundle.server, opts.address, nodeServerCredentials(graph.tls));
  let frames: RunningFrameServer | undefined;
  if (opts.framesAddress) {
    frames = await listenFrames({
      address: opts.framesAddress,
      maxMessageBytes: hopLimit,
      handler: opts.frameMeter ? meteredFrames(h.frames(), opts.frameMeter) : h.frames(),
      logger,
      name: node.name,
      tracer: opts.frameTracer,
      methodPath: framePath,
    });
  }
  bundle.setServing(true);
  logger.info({ node: node.name, type: node.type, address, framesAddress: frames?.address }, 'node serving');
  return {
    address,
    ...(frames ? { framesAddress: frames.address } : {}),
    async close() {
      await drain({
        graph,
        node,
        logger,
        handlers: h,
        server: bundle.server,
        frames,
        setServing: (ok) => bundle.setServing(ok),
      });
      await host.close();
    },
  };
}

/** How often a draining node looks whether its callers have gone; a drain is rare, a poll is simple. */
const DRAIN_POLL_MS = 20;
/** After the first step, how long calls already running get to finish once new ones are refused. */
const REFUSE_GRACE_MS = 2000;

/**
 * A node's drain (SIGTERM), in two steps. First: NOT_SERVING, no new connection, and every call on the connections
 * already open is served, new ones too: they belong to requests the executor admitted and is finishing (when a whole
 * graph is stopped at once, its executor drains while its nodes do). That lasts until the callers have closed their
 * connections with nothing in flight here, or spec.drainTimeoutMs. Then: new calls are refused UNAVAILABLE marked
 * not started (a GOAWAY frame on frame connections, the `infergraph-not-started` trailer on gRPC), so the executor
 * sends them to another replica or to this node's replacement, and the calls running get REFUSE_GRACE_MS to finish.
 */
async function drain(o: {
  graph: GraphSpec;
  node: NodeSpec;
  logger: Logger;
  handlers: Handlers;
  server: grpc.Server;
  frames: RunningFrameServer | undefined;
  setServing: (serving: boolean) => void;
}): Promise<void> {
  const { handlers: h, server, frames, logger } = o;
  const t0 = Date.now();
  o.setServing(false);
  stopAccepting(server);
  frames?.stopAccepting();
  const callers = (): number => openSessions(server) + (frames?.connections ?? 0);
  const served = h.started;
  const idle = await until(() => h.inFlight === 0 && callers() === 0, t0 + o.graph.drainTimeoutMs);
  h.refusing = `${o.node.name}: draining; call not started`;
  frames?.goAway('node shutting down');
  logger.info(
    { callersLeft: callers(), inFlight: h.inFlight, served: h.started - served, ms: Date.now() - t0 },
    idle ? 'drained: callers gone' : 'drain timed out: refusing new calls',
  );
  await Promise.all([
    shutdown(server, REFUSE_GRACE_MS),
    until(() => h.inFlight === 0 && (frames?.connections ?? 0) === 0, Date.now() + REFUSE_GRACE_MS),
  ]);
  await frames?.close();
}

/** Resolves true once `ok()` holds, false at `deadline`. */
async function until(ok: () => boolean, deadline: number): Promise<boolean> {
  while (!ok()) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
  }
  return true;
}

const framePath = (method: NodeMethod, codec: 'seldon' | 'flatbuffers'): string =>
  hopServerWire(codec === 'flatbuffers', method).path;

/** A frame handler that reports every call to its method's meter, as the gRPC handlers do (node-side metrics). */
function meteredFrames(handler: FrameHandler, meterFor: (methodPath: string) => CallMeter): FrameHandler {
  return async (req) => {
    const m = meterFor(framePath(req.method, req.codec));
    const t0 = performance.now();
    m.start();
    try {
      const reply = await handler(req);
      m.end(Code.OK, (performance.now() - t0) / 1000, undefined, reply.computeUs);
      return reply;
    } catch (err) {
      m.end(toInferError(err).code, (performance.now() - t0) / 1000, undefined);
      throw err;
    }
  };
}

/** Settles a unary call from run()'s result: the reply with its trailer, or the error mapped to its status. */
function respond<R>(callback: grpc.sendUnaryData<R>): [(r: [R, grpc.Metadata]) => void, (err: unknown) => void] {
  return [([reply, trailer]) => callback(null, reply, trailer), (err) => callback(toServiceError(err))];
}

type Decoded = { meta: Meta; encoding: TensorEncoding; inputs: Payload | Payload[] };

class Handlers {
  /** Calls being computed now (gRPC and frames alike). */
  inFlight = 0;
  /** Calls started since the process began. */
  started = 0;
  /** Set at the second step of a drain: new calls are refused, not started, with this message. */
  refusing: string | undefined;

  constructor(
    private readonly host: ComponentHost,
    private readonly codec: TensorEncoding,
  ) {}

  unary(
    method: Exclude<NodeMethod, 'aggregate' | 'sendFeedback'>,
  ): grpc.handleUnaryCall<WireSeldonMessage, WireSeldonMessage> {
    return (call, callback) => {
      void this.run(call, () => this.decodeSeldon(call.request), method, toWire).then(...respond(callback));
    };
  }

  aggregate(): grpc.handleUnaryCall<WireSeldonMessageList, WireSeldonMessage> {
    return (call, callback) => {
      void this.run(call, () => this.decodeSeldonList(call.request), 'aggregate', toWire).then(...respond(callback));
    };
  }

  /** Seldon's SendFeedback (Generic, Model and Router services): the host's feedback call. */
  feedback(): grpc.handleUnaryCall<WireFeedback, WireSeldonMessage> {
    return (call, callback) => {
      const scope = callScope(call);
      this.computeFeedback(scope.signal, scope.deadline, call.request)
        .then(
          ([reply, computeUs]) => {
            const trailer = new grpc.Metadata();
            trailer.set(COMPUTE_TRAILER, String(computeUs));
            callback(null, reply, trailer);
          },
          (err: unknown) => callback(toServiceError(err)),
        )
        .finally(() => scope.finish());
    };
  }

  /** infergraph.v1.FlatBuffersNode: bytes decoded here, so a malformed FlatBuffer is INVALID_ARGUMENT. */
  flat(method: Exclude<NodeMethod, 'sendFeedback'>): grpc.handleUnaryCall<Buffer, Buffer> {
    return (call, callback) => {
      void this.run(call, () => this.decodeFlat(method, call.request), method, encodeFlatMessage).then(
        ...respond(callback),
      );
    };
  }

  /**
   * The framed transport (src/transport): the same messages as the gRPC services above, as bytes, decoded here with
   * the same serialisers; the same component call; the compute time in the response frame instead of a trailer.
   */
  frames(): FrameHandler {
    return async (req) => {
      const method = req.method;
      const flat = req.codec === 'flatbuffers' && method !== 'sendFeedback';
      const sw = hopServerWire(flat, method);
      let request: unknown;
      try {
        request = sw.deserialize(req.body);
      } catch (err) {
        throw invalidArgument(`${this.host.node.name}: malformed ${sw.path} request: ${(err as Error).message}`, err);
      }
      req.span?.request(request);
      if (method === 'sendFeedback') {
        const [reply, computeUs] = await this.computeFeedback(req.signal, req.deadline, request as WireFeedback);
        req.span?.response(reply);
        return { body: sw.serializeParts(reply), computeUs };
      }
      const decode = flat
        ? () => this.decodeFlat(method, request as Buffer)
        : method === 'aggregate'
          ? () => this.decodeSeldonList(request as WireSeldonMessageList)
          : () => this.decodeSeldon(request as WireSeldonMessage);
      const encode: (m: InferMessage, e: TensorEncoding) => unknown = flat ? encodeFlatMessage : toWire;
      const [reply, computeUs] = await this.compute(req.signal, req.deadline, decode, method, encode);
      req.span?.response(reply);
      return { body: sw.serializeParts(reply), computeUs };
    };
  }

  private decodeSeldon(request: WireSeldonMessage): Decoded {
    const msg = fromWire(request);
    return { meta: msg.meta, encoding: this.encodingOf(msg.payload), inputs: msg.payload };
  }

  private decodeSeldonList(request: WireSeldonMessageList): Decoded {
    const msgs = (request.seldonMessages ?? []).map(fromWire);
    const first = msgs[0];
    const encoding = first ? this.encodingOf(first.payload) : this.codec;
    return { meta: first?.meta ?? emptyMeta(), encoding, inputs: msgs.map((m) => m.payload) };
  }

  private decodeFlat(method: Exclude<NodeMethod, 'sendFeedback'>, request: Buffer): Decoded {
    if (method !== 'aggregate') {
      const msg = decodeFlatMessage(request);
      return { meta: msg.meta, encoding: this.codec, inputs: msg.payload };
    }
    const msgs = decodeFlatMessageList(request);
    return { meta: msgs[0]?.meta ?? emptyMeta(), encoding: this.codec, inputs: msgs.map((m) => m.payload) };
  }

  metadata(): grpc.handleUnaryCall<unknown, unknown> {
    return (_call, callback) => {
      try {
        const m = this.host.metadata();
        callback(null, modelMetadataToWire(m.name, m));
      } catch (err) {
        callback(toServiceError(err));
      }
    };
  }

  /** A Feedback decoded and handed to the host (gRPC and frames alike); the reply in the graph's tensor form. */
  private async computeFeedback(
    signal: AbortSignal,
    deadline: number | undefined,
    request: WireFeedback,
  ): Promise<[WireSeldonMessage, number]> {
    if (this.refusing !== undefined) throw new InferError(Code.UNAVAILABLE, this.refusing, { notStarted: true });
    this.inFlight++;
    this.started++;
    try {
      const fb = feedbackFromWire(request);
      const meta = fb.response?.meta ?? emptyMeta();
      const { message, computeUs } = await this.host.feedback(fb, { meta, signal, deadline });
      return [toWire(message, this.codec), computeUs];
    } finally {
      this.inFlight--;
    }
  }

  /** Replies in the encoding the caller used for tensors (as Seldon components do), else the graph's codec. */
  private encodingOf(p: Payload): TensorEncoding {
    return p.kind === 'tensor' && p.encoding ? p.encoding : this.codec;
  }

  private async run<R>(
    call: grpc.ServerUnaryCall<unknown, unknown>,
    decode: () => Decoded,
    method: Exclude<NodeMethod, 'sendFeedback'>,
    encode: (reply: InferMessage, encoding: TensorEncoding) => R,
  ): Promise<[R, grpc.Metadata]> {
    const scope = callScope(call);
    let wire: R;
    let computeUs: number;
    try {
      [wire, computeUs] = await this.compute(scope.signal, scope.deadline, decode, method, encode);
    } finally {
      scope.finish();
    }
    const trailer = new grpc.Metadata();
    trailer.set(COMPUTE_TRAILER, String(computeUs));
    return [wire, trailer];
  }

  /** Decode, the host's call, encode: the same for gRPC and the framed transport. */
  private async compute<R>(
    signal: AbortSignal,
    deadline: number | undefined,
    decode: () => Decoded,
    method: Exclude<NodeMethod, 'sendFeedback'>,
    encode: (reply: InferMessage, encoding: TensorEncoding) => R,
  ): Promise<[R, number]> {
    if (this.refusing !== undefined) throw new InferError(Code.UNAVAILABLE, this.refusing, { notStarted: true });
    this.inFlight++;
    this.started++;
    try {
      const { meta, encoding, inputs } = decode();
      const { message, computeUs } = await this.host.invoke(method, inputs, { meta, signal, deadline });
      return [encode(message, encoding), computeUs];
    } finally {
      this.inFlight--;
    }
  }
}
