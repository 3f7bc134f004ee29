import * as grpc from '@grpc/grpc-js';
import type { WorkRunner } from '../components/call-context';
import { unimplemented } from '../errors';
import type { GraphSpec, NodeSpec, NodeType } from '../graph/spec';
import type { NodeMethod } from '../message/hop';
import { emptyMeta, type InferMessage, type Meta, type Payload, type TensorEncoding } from '../message/message';
import { decodeFlatMessage, decodeFlatMessageList, encodeFlatMessage } from '../protocol/flatbuffers';
import { FLAT_RPC_METHOD, FLAT_RPCS, FLAT_SERVICE, flatNodeService } from '../protocol/flatbuffers-service';
import { seldonEncoding } from '../protocol/hop-codec';
import { modelMetadataToWire } from '../protocol/metadata';
import { seldonProto, serviceDefinition, type SeldonServiceName } from '../protocol/proto-loader';
import { fromWire, toWire } from '../protocol/seldon-message';
import type { WireSeldonMessage, WireSeldonMessageList } from '../protocol/wire-types';
import { callScope } from '../rpc/call-scope';
import { bind, createServer, shutdown } from '../rpc/server';
import { toServiceError } from '../rpc/status';
import { nodeServerCredentials } from '../rpc/tls';
import { COMPUTE_TRAILER } from '../rpc/trailers';
import type { Logger } from '../util/logger';
import type { Limiter } from '../util/limiter';
import { ComponentHost } from './component-host';

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
  address: string;
  logger: Logger;
  /** Tracing hooks this in to turn ctx.work() into spans. */
  work?: WorkRunner;
  /** Tracing's server interceptors (continue the executor's trace, open the node's server span). */
  serverInterceptors?: grpc.ServerInterceptor[];
  /** Metrics (src/telemetry/graph-metrics.ts): sees the server before the node's services are added. */
  onServer?: (server: grpc.Server) => void;
  /** Metrics: reads the component host's call queue counts at scrape time. */
  onAdmission?: (admission: Limiter) => void;
}

export interface RunningNode {
  address: string;
  close(): Promise<void>;
}

export async function startNodeServer(opts: NodeServerOptions): Promise<RunningNode> {
  const { node, graph, logger } = opts;
  const host = await ComponentHost.create(graph, node, { logger, ...(opts.work ? { work: opts.work } : {}) });

  opts.onAdmission?.(host.admission);
  const service = TYPE_SERVICE[node.type];
  const bundle = createServer({
    maxMessageBytes: node.runtime.maxMessageBytes,
    services: [`seldon.protos.${service}`, 'seldon.protos.Generic', FLAT_SERVICE],
    reflect: graph.reflection ? seldonProto().def : undefined,
    interceptors: opts.serverInterceptors,
  });
  opts.onServer?.(bundle.server);
  const h = new Handlers(host, seldonEncoding(graph.codec));
  const typed: grpc.UntypedServiceImplementation = {};
  const generic: grpc.UntypedServiceImplementation = {
    TransformInput: h.unary('transformInput'),
    TransformOutput: h.unary('transformOutput'),
    Route: h.unary('route'),
    Aggregate: h.aggregate(),
    SendFeedback: h.unimplementedCall('SendFeedback'),
  };
  if (service === 'Model') {
    typed.Predict = h.unary('predict');
    typed.SendFeedback = h.unimplementedCall('SendFeedback');
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
    typed.SendFeedback = h.unimplementedCall('SendFeedback');
  }
  bundle.server.addService(serviceDefinition(service), typed);
  bundle.server.addService(serviceDefinition('Generic'), generic);
  // Always served, whatever the manifest's codec: the executor picks the codec, nodes speak both.
  bundle.server.addService(flatNodeService(), Object.fromEntries(FLAT_RPCS.map((rpc) => [rpc, h.flat(FLAT_RPC_METHOD[rpc])])));
  const address = await bind(bundle.server, opts.address, nodeServerCredentials(graph.tls));
  bundle.setServing(true);
  logger.info({ node: node.name, type: node.type, address }, 'node serving');
  return {
    address,
    async close() {
      // Drain: NOT_SERVING, no new calls (tryShutdown), the calls held finish within spec.drainTimeoutMs.
      bundle.setServing(false);
      await shutdown(bundle.server, graph.drainTimeoutMs);
      await host.close();
    },
  };
}

/** Settles a unary call from run()'s result: the reply with its trailer, or the error mapped to its status. */
function respond<R>(callback: grpc.sendUnaryData<R>): [(r: [R, grpc.Metadata]) => void, (err: unknown) => void] {
  return [([reply, trailer]) => callback(null, reply, trailer), (err) => callback(toServiceError(err))];
}

type Decoded = { meta: Meta; encoding: TensorEncoding; inputs: Payload | Payload[] };

class Handlers {
  constructor(
    private readonly host: ComponentHost,
    private readonly codec: TensorEncoding,
  ) {}

  unary(method: Exclude<NodeMethod, 'aggregate'>): grpc.handleUnaryCall<WireSeldonMessage, WireSeldonMessage> {
    return (call, callback) => {
      void this.run(call, () => {
        const msg = fromWire(call.request);
        return { meta: msg.meta, encoding: this.encodingOf(msg.payload), inputs: msg.payload };
      }, method, toWire).then(...respond(callback));
    };
  }

  aggregate(): grpc.handleUnaryCall<WireSeldonMessageList, WireSeldonMessage> {
    return (call, callback) => {
      void this.run(call, () => {
        const msgs = (call.request.seldonMessages ?? []).map(fromWire);
        const first = msgs[0];
        return { meta: first?.meta ?? emptyMeta(), encoding: first ? this.encodingOf(first.payload) : this.codec, inputs: msgs.map((m) => m.payload) };
      }, 'aggregate', toWire).then(...respond(callback));
    };
  }

  /** infergraph.v1.FlatBuffersNode: bytes decoded here, so a malformed FlatBuffer is INVALID_ARGUMENT. */
  flat(method: NodeMethod): grpc.handleUnaryCall<Buffer, Buffer> {
    return (call, callback) => {
      void this.run(call, () => {
        if (method !== 'aggregate') {
          const msg = decodeFlatMessage(call.request);
          return { meta: msg.meta, encoding: this.codec, inputs: msg.payload };
        }
        const msgs = decodeFlatMessageList(call.request);
        return { meta: msgs[0]?.meta ?? emptyMeta(), encoding: this.codec, inputs: msgs.map((m) => m.payload) };
      }, method, encodeFlatMessage).then(...respond(callback));
    };
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

  unimplementedCall(name: string): grpc.handleUnaryCall<unknown, unknown> {
    const message = `${this.host.node.name}: ${name} is not supported`;
    return (_call, callback) => callback(toServiceError(unimplemented(message)));
  }

  /** Replies in the encoding the caller used for tensors (as Seldon components do), else the graph's codec. */
  private encodingOf(p: Payload): TensorEncoding {
    return p.kind === 'tensor' && p.encoding ? p.encoding : this.codec;
  }

  private async run<R>(
    call: grpc.ServerUnaryCall<unknown, unknown>,
    decode: () => Decoded,
    method: NodeMethod,
    encode: (reply: InferMessage, encoding: TensorEncoding) => R,
  ): Promise<[R, grpc.Metadata]> {
    const { meta, encoding, inputs } = decode();
    const scope = callScope(call);
    let reply;
    try {
      reply = await this.host.invoke(method, inputs, { meta, signal: scope.signal, deadline: scope.deadline });
    } finally {
      scope.finish();
    }
    const { message, computeUs } = reply;
    const wire = encode(message, encoding);
    const trailer = new grpc.Metadata();
    trailer.set(COMPUTE_TRAILER, String(computeUs));
    return [wire, trailer];
  }
}
