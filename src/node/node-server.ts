import * as grpc from '@grpc/grpc-js';
import type { Component } from '../components/api';
import { CollectingCallContext, plainWork, type WorkRunner } from '../components/call-context';
import { unimplemented } from '../errors';
import type { GraphSpec, NodeSpec, NodeType } from '../graph/spec';
import { emptyMeta, type InferMessage, type Payload, type TensorEncoding } from '../message/message';
import { seldonProto, serviceDefinition, type SeldonServiceName } from '../protocol/proto-loader';
import { fromWire, toWire } from '../protocol/seldon-message';
import { decodeFlatMessage, decodeFlatMessageList, encodeFlatMessage } from '../protocol/flatbuffers';
import { FLAT_RPC_METHOD, FLAT_RPCS, FLAT_SERVICE, flatNodeService } from '../protocol/flatbuffers-service';
import { seldonEncoding } from '../protocol/hop-codec';
import { modelMetadataToWire } from '../protocol/metadata';
import type { WireSeldonMessage, WireSeldonMessageList } from '../protocol/wire-types';
import { bind, createServer, shutdown } from '../rpc/server';
import { toServiceError } from '../rpc/status';
import { COMPUTE_TRAILER } from '../rpc/trailers';
import type { Logger } from '../util/logger';
import { loadNodeComponent } from './component-loader';

/**
 * The node runtime: hosts one component behind the Seldon services its node type needs (plus Generic), health and
 * reflection. Requests are decoded to internal messages, handed to the component, and the reply carries only what
 * this node added to meta (the executor merges). Server-side compute time goes back in the trailer so the
 * executor and the bench can split compute from transport.
 */

const TYPE_SERVICE: Record<NodeType, SeldonServiceName> = {
  MODEL: 'Model',
  TRANSFORMER: 'Transformer',
  OUTPUT_TRANSFORMER: 'OutputTransformer',
  COMBINER: 'Combiner',
  ROUTER: 'Router',
};

type Method = 'predict' | 'transformInput' | 'transformOutput' | 'route' | 'aggregate';

export interface NodeServerOptions {
  graph: GraphSpec;
  node: NodeSpec;
  address: string;
  logger: Logger;
  /** Tracing hooks this in to turn ctx.work() into spans. */
  work?: WorkRunner;
  /** Tracing's server interceptors (continue the executor's trace, open the node's server span). */
  serverInterceptors?: grpc.ServerInterceptor[];
}

export interface RunningNode {
  address: string;
  close(): Promise<void>;
}

export async function startNodeServer(opts: NodeServerOptions): Promise<RunningNode> {
  const { node, graph, logger } = opts;
  const { def, params } = loadNodeComponent(node, graph.baseDir);
  const component = await def.create(params, { nodeName: node.name, nodeType: node.type, baseDir: graph.baseDir, logger });
  const t0 = performance.now();
  await component.load?.();
  logger.info({ node: node.name, implementation: def.name, loadMs: Math.round(performance.now() - t0) }, 'component loaded');

  const service = TYPE_SERVICE[node.type];
  const bundle = createServer({
    maxMessageBytes: node.runtime.maxMessageBytes,
    services: [`seldon.protos.${service}`, 'seldon.protos.Generic', FLAT_SERVICE],
    reflect: seldonProto().def,
    interceptors: opts.serverInterceptors,
  });
  const h = new Handlers(component, node, seldonEncoding(graph.codec), opts.work ?? plainWork);
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
  const address = await bind(bundle.server, opts.address);
  bundle.setServing(true);
  logger.info({ node: node.name, type: node.type, address }, 'node serving');
  return {
    address,
    async close() {
      bundle.setServing(false);
      await shutdown(bundle.server);
      await component.close?.();
    },
  };
}

/** Settles a unary call from run()'s result: the reply with its trailer, or the error mapped to its status. */
function respond<R>(callback: grpc.sendUnaryData<R>): [(r: [R, grpc.Metadata]) => void, (err: unknown) => void] {
  return [([reply, trailer]) => callback(null, reply, trailer), (err) => callback(toServiceError(err))];
}

class Handlers {
  private readonly staticTags;

  constructor(
    private readonly component: Component,
    private readonly node: NodeSpec,
    private readonly codec: TensorEncoding,
    private readonly work: WorkRunner,
  ) {
    this.staticTags = component.tags?.() ?? {};
  }

  unary(method: Exclude<Method, 'aggregate'>): grpc.handleUnaryCall<WireSeldonMessage, WireSeldonMessage> {
    return (call, callback) => {
      this.run(call, () => {
        const msg = fromWire(call.request);
        return { meta: msg.meta, encoding: this.encodingOf(msg.payload), inputs: msg.payload };
      }, method, toWire).then(...respond(callback));
    };
  }

  aggregate(): grpc.handleUnaryCall<WireSeldonMessageList, WireSeldonMessage> {
    return (call, callback) => {
      this.run(call, () => {
        const msgs = (call.request.seldonMessages ?? []).map(fromWire);
        const first = msgs[0];
        return { meta: first?.meta ?? emptyMeta(), encoding: first ? this.encodingOf(first.payload) : this.codec, inputs: msgs.map((m) => m.payload) };
      }, 'aggregate', toWire).then(...respond(callback));
    };
  }

  /** infergraph.v1.FlatBuffersNode: bytes decoded here, so a malformed FlatBuffer is INVALID_ARGUMENT. */
  flat(method: Method): grpc.handleUnaryCall<Buffer, Buffer> {
    return (call, callback) => {
      this.run(call, () => {
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
        callback(null, modelMetadataToWire(this.node.name, this.component.metadata?.() ?? {}));
      } catch (err) {
        callback(toServiceError(err));
      }
    };
  }

  unimplementedCall(name: string): grpc.handleUnaryCall<unknown, unknown> {
    return (_call, callback) => callback(toServiceError(unimplemented(`${this.node.name}: ${name} is not supported`)));
  }

  /** Replies in the encoding the caller used for tensors (as Seldon components do), else the graph's codec. */
  private encodingOf(p: Payload): TensorEncoding {
    return p.kind === 'tensor' && p.encoding ? p.encoding : this.codec;
  }

  private async run<R>(
    call: grpc.ServerUnaryCall<unknown, unknown>,
    decode: () => { meta: InferMessage['meta']; encoding: TensorEncoding; inputs: Payload | Payload[] },
    method: Method,
    encode: (reply: InferMessage, encoding: TensorEncoding) => R,
  ): Promise<[R, grpc.Metadata]> {
    const { meta, encoding, inputs } = decode();
    const abort = new AbortController();
    // grpc-js emits 'cancelled' for every call once its stream closes, answered or not: abort only unfinished work
    // (an abort() builds a DOMException with a stack trace, measurable per call).
    let finished = false;
    call.on('cancelled', () => {
      if (!finished) abort.abort();
    });
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number.isFinite(deadline) ? Number(deadline) : undefined;
    const ctx = new CollectingCallContext(meta, abort.signal, deadlineMs, this.work);
    // Compute is the component's own time: message decoding and encoding count as transport, so a faster codec
    // shows up as less transport and graph overhead (the bench), not as less compute.
    const t0 = performance.now();
    const payload = await this.invoke(method, inputs, ctx);
    finished = true;
    const computeUs = Math.round((performance.now() - t0) * 1000);
    const reply: InferMessage = {
      meta: {
        puid: meta.puid,
        tags: { ...this.staticTags, ...ctx.tags },
        routing: {},
        requestPath: {},
        metrics: [...ctx.metrics, ...(this.component.metrics?.() ?? [])],
      },
      payload,
    };
    const wire = encode(reply, encoding);
    const trailer = new grpc.Metadata();
    trailer.set(COMPUTE_TRAILER, String(computeUs));
    return [wire, trailer];
  }

  private async invoke(method: Method, inputs: Payload | Payload[], ctx: CollectingCallContext): Promise<Payload> {
    const c = this.component;
    const missing = (): never => {
      throw unimplemented(`${this.node.name}: component does not implement ${method}`);
    };
    switch (method) {
      case 'aggregate':
        return (c.aggregate ?? missing).call(c, inputs as Payload[], ctx);
      case 'route': {
        const route = await (c.route ?? missing).call(c, inputs as Payload, ctx);
        // Seldon routers answer with the child index as a [[N]] tensor.
        return { kind: 'tensor', tensor: { dtype: 'float64', shape: [1, 1], data: new Float64Array([route]) } };
      }
      default:
        return (c[method] ?? missing).call(c, inputs as Payload, ctx);
    }
  }
}
