import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { declaredOutputs } from '../../src/components/catalog';
import { Writer } from 'protobufjs';
import { Code, InferError } from '../../src/errors';
import { emptyMeta, type InferMessage } from '../../src/message/message';
import { inferRequestFromWire, inferResponseToWire, rawBytes, tensorFromRaw } from '../../src/protocol/v2/infer';
import { tritonModelConfig, v2ModelMetadata } from '../../src/protocol/v2/metadata';
import { v2Method } from '../../src/protocol/v2/proto';
import type { WireModelInferRequest, WireModelInferResponse } from '../../src/protocol/v2/wire-types';
import { toNumbers } from '../../src/tensor/tensor';

const infer = v2Method('ModelInfer');
const decodeRequest = (b: Uint8Array): WireModelInferRequest => infer.requestDeserialize(Buffer.from(b));
const encodeRequest = (w: WireModelInferRequest): Buffer => infer.requestSerialize(w);
const decodeResponse = (b: Uint8Array): WireModelInferResponse =>
  infer.responseDeserialize(Buffer.from(b)) as WireModelInferResponse;
const encodeResponse = (w: WireModelInferResponse): Buffer => infer.responseSerialize(w);

const LEN = 2;
const tag = (field: number, wire: number): number => (field << 3) | wire;
/** A map<string, InferParameter> entry with a string_param (field 3). */
const stringParam = (w: Writer, field: number, key: string, value: string): Writer =>
  w
    .uint32(tag(field, LEN))
    .fork()
    .uint32(tag(1, LEN))
    .string(key)
    .uint32(tag(2, LEN))
    .fork()
    .uint32(tag(3, LEN))
    .string(value)
    .ldelim()
    .ldelim();
const packedInt64 = (w: Writer, field: number, values: number[]): Writer => {
  w.uint32(tag(field, LEN)).fork();
  values.forEach((v) => w.int64(v));
  return w.ldelim();
};
const lengthPrefixed = (...items: Buffer[]): Buffer =>
  Buffer.concat(items.flatMap((b) => [Buffer.from(new Uint32Array([b.length]).buffer), b]));

function expectInvalid(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof InferError && e.code === Code.INVALID_ARGUMENT && re.test(e.message));
}

/** What top1-output declares in the built-in catalog (components declare their outputs). */
const TOP1_DECLARED = declaredOutputs('top1-output') ?? [];

describe('Open Inference Protocol (V2) wire format', () => {
  it('decodes a ModelInferRequest written by hand from the field numbers: a JPEG in raw_input_contents', () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
    const w = new Writer().uint32(tag(1, LEN)).string('imagenet-mobilenet').uint32(tag(3, LEN)).string('req-7');
    stringParam(w, 4, 'puid', 'p-42');
    // inputs=5: InferInputTensor{name=1, datatype=2, shape=3 packed int64}
    w.uint32(tag(5, LEN)).fork().uint32(tag(1, LEN)).string('image').uint32(tag(2, LEN)).string('BYTES');
    packedInt64(w, 3, [1]).ldelim();
    w.uint32(tag(7, LEN)).bytes(lengthPrefixed(jpeg));
    const req = inferRequestFromWire(decodeRequest(w.finish()));
    assert.equal(req.modelName, 'imagenet-mobilenet');
    assert.equal(req.id, 'req-7');
    assert.equal(req.message.meta.puid, 'p-42');
    assert.equal(req.message.payload.kind, 'bin');
    assert.ok(req.message.payload.kind === 'bin' && Buffer.from(req.message.payload.data).equals(jpeg));
  });

  it('decodes FP32 typed contents (fp32_contents = 6, packed) written by hand', () => {
    const w = new Writer().uint32(tag(1, LEN)).string('g');
    w.uint32(tag(5, LEN)).fork().uint32(tag(1, LEN)).string('x').uint32(tag(2, LEN)).string('FP32');
    packedInt64(w, 3, [1, 3]);
    w.uint32(tag(5, LEN)).fork().uint32(tag(6, LEN)).fork().float(1.5).float(-2).float(3.25).ldelim().ldelim();
    w.ldelim();
    const stringTag = new Writer();
    stringParam(stringTag, 4, 'team', 'vision');
    const bytes = Buffer.concat([w.finish(), stringTag.finish()]);
    const req = inferRequestFromWire(decodeRequest(bytes));
    const p = req.message.payload;
    assert.ok(p.kind === 'tensor');
    assert.equal(p.tensor.dtype, 'float32');
    assert.deepEqual(p.tensor.shape, [1, 3]);
    assert.deepEqual(toNumbers(p.tensor), [1.5, -2, 3.25]);
    assert.deepEqual(p.names, ['x']);
    assert.equal(req.message.meta.tags.team, 'vision');
  });

  it('writes a ModelInferResponse byte-identical to one written by hand (top1 answer -> index, score, label)', () => {
    const reply: InferMessage = {
      meta: emptyMeta('p-42'),
      payload: { kind: 'json', data: { predictions: [{ index: 0, score: 0.75, wnid: 'n01440764', label: 'tench' }] } },
    };
    const wire = inferResponseToWire(reply, {
      modelName: 'imagenet-mobilenet',
      id: 'req-7',
      outputs: [],
      traceId: 'abc',
      declared: TOP1_DECLARED,
    });
    const w = new Writer().uint32(tag(1, LEN)).string('imagenet-mobilenet').uint32(tag(3, LEN)).string('req-7');
    stringParam(w, 4, 'puid', 'p-42');
    stringParam(w, 4, 'trace_id', 'abc');
    for (const [name, dt] of [
      ['index', 'INT64'],
      ['score', 'FP32'],
      ['label', 'BYTES'],
    ] as const) {
      w.uint32(tag(5, LEN)).fork().uint32(tag(1, LEN)).string(name).uint32(tag(2, LEN)).string(dt);
      packedInt64(w, 3, [1]).ldelim();
    }
    w.uint32(tag(6, LEN)).bytes(Buffer.from(new BigInt64Array([0n]).buffer));
    w.uint32(tag(6, LEN)).bytes(Buffer.from(new Float32Array([0.75]).buffer));
    w.uint32(tag(6, LEN)).bytes(lengthPrefixed(Buffer.from('tench')));
    const hand = Buffer.from(w.finish());
    assert.ok(
      encodeResponse(wire).equals(hand),
      `ours:\n${encodeResponse(wire).toString('hex')}\nhand:\n${hand.toString('hex')}`,
    );
    // And the hand-written bytes decode to what we meant.
    const back = decodeResponse(hand);
    assert.deepEqual(
      back.outputs.map((o) => o.name),
      ['index', 'score', 'label'],
    );
    const label = tensorFromRaw('BYTES', back.outputs[2]?.shape ?? [], back.raw_output_contents?.[2] as Uint8Array);
    assert.ok(label.dtype === 'string' && Buffer.from(label.data[0] as Uint8Array).toString() === 'tench');
    assert.equal(back.parameters?.puid?.string_param, 'p-42');
  });

  const cases = [
    { datatype: 'FP32', dtype: 'float32', field: 'fp32_contents', values: [0.5, -1, 2] },
    { datatype: 'FP64', dtype: 'float64', field: 'fp64_contents', values: [0.1, -1e300, 2] },
    { datatype: 'UINT8', dtype: 'uint8', field: 'uint_contents', values: [0, 128, 255] },
    { datatype: 'INT32', dtype: 'int32', field: 'int_contents', values: [-5, 0, 2 ** 31 - 1] },
    { datatype: 'INT64', dtype: 'int64', field: 'int64_contents', values: [-3, 0, 2 ** 40] },
    { datatype: 'BOOL', dtype: 'bool', field: 'bool_contents', values: [true, false, true] },
  ] as const;
  for (const c of cases) {
    it(`${c.datatype} arrives the same in typed contents and in raw_input_contents`, () => {
      const typed = inferRequestFromWire(
        decodeRequest(
          encodeRequest({
            model_name: 'g',
            inputs: [{ name: 't', datatype: c.datatype, shape: [3], contents: { [c.field]: c.values } }],
          }),
        ),
      );
      assert.ok(typed.message.payload.kind === 'tensor');
      const t = typed.message.payload.tensor;
      assert.equal(t.dtype, c.dtype);
      assert.deepEqual(toNumbers(t), c.values.map(Number));
      const raw = inferRequestFromWire(
        decodeRequest(
          encodeRequest({
            model_name: 'g',
            inputs: [{ name: 't', datatype: c.datatype, shape: [3] }],
            raw_input_contents: [rawBytes(t)],
          }),
        ),
      );
      assert.ok(raw.message.payload.kind === 'tensor');
      assert.equal(raw.message.payload.tensor.dtype, c.dtype);
      assert.deepEqual(toNumbers(raw.message.payload.tensor), c.values.map(Number));
    });
  }

  it('a JPEG in bytes_contents is binData; several BYTES elements are a string tensor', () => {
    const one = inferRequestFromWire({
      inputs: [{ name: 'image', datatype: 'BYTES', shape: ['1'], contents: { bytes_contents: [Buffer.from('JPEG')] } }],
    });
    assert.ok(one.message.payload.kind === 'bin' && Buffer.from(one.message.payload.data).toString() === 'JPEG');
    const two = inferRequestFromWire({
      inputs: [{ name: 's', datatype: 'BYTES', shape: ['2'] }],
      raw_input_contents: [lengthPrefixed(Buffer.from('a'), Buffer.from('bc'))],
    });
    assert.ok(two.message.payload.kind === 'tensor' && two.message.payload.tensor.dtype === 'string');
  });

  it('rejects bad requests with INVALID_ARGUMENT naming the problem', () => {
    const fp32 = (extra: object): WireModelInferRequest => ({
      inputs: [{ name: 'x', datatype: 'FP32', shape: ['2', '2'], ...extra }],
    });
    expectInvalid(
      () => inferRequestFromWire({ inputs: [{ name: 'x', datatype: 'FLOAT', shape: ['1'] }] }),
      /input 'x': unknown datatype 'FLOAT'/,
    );
    expectInvalid(
      () => inferRequestFromWire({ inputs: [{ name: 'x', datatype: 'FP16', shape: ['1'] }] }),
      /datatype FP16 is not supported/,
    );
    expectInvalid(
      () => inferRequestFromWire(fp32({ contents: { fp32_contents: [1, 2, 3] } })),
      /shape \[2,2\] needs 4 FP32 values, fp32_contents has 3/,
    );
    expectInvalid(
      () => inferRequestFromWire(fp32({ contents: { int_contents: [1, 2, 3, 4] } })),
      /FP32 is carried in fp32_contents, but the request fills int_contents/,
    );
    expectInvalid(
      () => inferRequestFromWire({ ...fp32({}), raw_input_contents: [Buffer.alloc(15)] }),
      /raw_input_contents has 15 bytes, but FP32 \[2,2\] needs 16/,
    );
    expectInvalid(
      () =>
        inferRequestFromWire({
          ...fp32({ contents: { fp32_contents: [1, 2, 3, 4] } }),
          raw_input_contents: [Buffer.alloc(16)],
        }),
      /both contents/,
    );
    expectInvalid(() => inferRequestFromWire({ inputs: [] }), /exactly one input tensor, got 0/);
    expectInvalid(
      () =>
        inferRequestFromWire({
          inputs: [
            { name: 'a', datatype: 'FP32', shape: ['1'] },
            { name: 'b', datatype: 'FP32', shape: ['1'] },
          ],
        }),
      /got 2 \('a', 'b'\)/,
    );
    expectInvalid(
      () => inferRequestFromWire({ ...fp32({}), raw_input_contents: [Buffer.alloc(16), Buffer.alloc(16)] }),
      /2 entries for 1 input/,
    );
    expectInvalid(
      () => inferRequestFromWire({ inputs: [{ name: 'x', datatype: 'FP32', shape: ['-1'] }] }),
      /bad dimension -1/,
    );
    expectInvalid(
      () =>
        inferRequestFromWire({
          inputs: [{ name: 'x', datatype: 'UINT8', shape: ['1'], contents: { uint_contents: [300] } }],
        }),
      /uint_contents\[0\] = 300 is out of range for UINT8/,
    );
    const badPrefix = Buffer.from([10, 0, 0, 0, 1, 2]);
    expectInvalid(
      () =>
        inferRequestFromWire({
          inputs: [{ name: 'image', datatype: 'BYTES', shape: ['1'] }],
          raw_input_contents: [badPrefix],
        }),
      /says 10 bytes at offset 0, but only 2 follow/,
    );
    expectInvalid(
      () =>
        inferResponseToWire(
          { meta: emptyMeta(), payload: { kind: 'str', data: 'x' } },
          { modelName: 'g', id: '', outputs: ['nope'] },
        ),
      /unknown output 'nope' requested \(this graph answers with: output\)/,
    );
  });

  it('a tensor answer is one output; requested outputs are answered in the order asked', () => {
    const reply: InferMessage = {
      meta: emptyMeta(),
      payload: {
        kind: 'tensor',
        tensor: { dtype: 'float32', shape: [1, 2], data: new Float32Array([1, 2]) },
        names: ['probs'],
      },
    };
    const w = inferResponseToWire(reply, { modelName: 'g', id: '', outputs: [] });
    assert.deepEqual(w.outputs, [{ name: 'probs', datatype: 'FP32', shape: ['1', '2'] }]);
    const top1: InferMessage = {
      meta: emptyMeta(),
      payload: { kind: 'json', data: { predictions: [{ index: 3, score: 0.5, label: 'x' }] } },
    };
    assert.deepEqual(
      inferResponseToWire(top1, {
        modelName: 'g',
        id: '',
        outputs: ['label', 'index'],
        declared: TOP1_DECLARED,
      }).outputs.map((o) => o.name),
      ['label', 'index'],
    );
  });

  it('ModelMetadata and Triton ModelConfig encode with the V2 and Triton field layouts', () => {
    const spec = {
      name: 'g',
      platform: 'infergraph',
      versions: ['1'],
      inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }],
      outputs: [{ name: 'score', datatype: 'float32', shape: ['batch'] }],
    };
    const md = v2Method('ModelMetadata');
    const back = md.responseDeserialize(md.responseSerialize(v2ModelMetadata(spec))) as {
      outputs: { datatype: string; shape: string[] }[];
    };
    assert.deepEqual(back.outputs, [{ name: 'score', datatype: 'FP32', shape: ['-1'] }]);
    const mc = v2Method('ModelConfig');
    assert.equal(mc.path, '/inference.GRPCInferenceService/ModelConfig');
    const bytes = mc.responseSerialize(tritonModelConfig(spec));
    // ModelConfigResponse.config=1 -> ModelConfig.name=1 'g'
    assert.ok(bytes.subarray(0, 5).equals(Buffer.from([tag(1, LEN), bytes[1] as number, tag(1, LEN), 1, 0x67])));
    const cfg = (
      mc.responseDeserialize(bytes) as {
        config: { input: { data_type: string }[]; output: { data_type: string; dims: string[] }[] };
      }
    ).config;
    assert.equal(cfg.input[0]?.data_type, 'TYPE_STRING');
    assert.deepEqual(cfg.output[0], { name: 'score', data_type: 'TYPE_FP32', dims: ['-1'] });
  });
});
