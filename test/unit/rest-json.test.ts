import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, InferError } from '../../src/errors';
import { emptyMeta, type InferMessage } from '../../src/message/message';
import { seldonErrorJson, seldonFromJson, seldonToJson } from '../../src/protocol/seldon/json';
import { answerOutputs, inferRequestFromWire } from '../../src/protocol/v2/infer';
import { v2RequestFromHttp, v2ResponseToHttp } from '../../src/protocol/v2/json';
import { toNumbers } from '../../src/tensor/tensor';
import { httpStatusOf, retryAfterSeconds } from '../../src/http/status';

/** The REST wire forms (src/protocol/seldon/json.ts, v2/json.ts) against messages written by hand. */

const bad = (fn: () => unknown, re: RegExp): void =>
  assert.throws(fn, (e: unknown) => e instanceof InferError && e.code === Code.INVALID_ARGUMENT && re.test(e.message));

describe('SeldonMessage JSON <-> InferMessage', () => {
  it('data.ndarray: nested numbers become a tensor and go back as nested lists', () => {
    const m = seldonFromJson({
      data: {
        names: ['a', 'b'],
        ndarray: [
          [1, 2],
          [3, 4],
        ],
      },
    });
    assert.equal(m.payload.kind, 'tensor');
    if (m.payload.kind !== 'tensor') return;
    assert.deepEqual(m.payload.tensor.shape, [2, 2]);
    assert.deepEqual(toNumbers(m.payload.tensor), [1, 2, 3, 4]);
    assert.deepEqual(m.payload.names, ['a', 'b']);
    const back = seldonToJson(m, 'ndarray') as { data: { ndarray: unknown; names: string[] } };
    assert.deepEqual(back.data, {
      names: ['a', 'b'],
      ndarray: [
        [1, 2],
        [3, 4],
      ],
    });
  });

  it('data.ndarray that is not rectangular numbers stays JSON', () => {
    const m = seldonFromJson({ data: { ndarray: [['a', 1], { x: 2 }] } });
    assert.equal(m.payload.kind, 'json');
  });

  it('data.tensor {shape, values}', () => {
    const m = seldonFromJson({ data: { tensor: { shape: [1, 3], values: [0.5, 1, 2] } } });
    assert.ok(m.payload.kind === 'tensor');
    assert.deepEqual(m.payload.tensor.shape, [1, 3]);
    const back = seldonToJson(m, 'tensor') as { data: { tensor: unknown } };
    assert.deepEqual(back.data.tensor, { shape: [1, 3], values: [0.5, 1, 2] });
    bad(() => seldonFromJson({ data: { tensor: { shape: [2], values: [1] } } }), /shape \[2\] needs 2 values, got 1/);
    bad(() => seldonFromJson({ data: { tensor: { shape: [-1], values: [] } } }), /non-negative integers/);
  });

  it('data.tftensor: TensorProto JSON with tensorContent (base64) or typed values, and back with tensorContent', () => {
    const content = Buffer.from(new Float32Array([1.5, -2]).buffer).toString('base64');
    const raw = seldonFromJson({
      data: {
        tftensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '1' }, { size: '2' }] }, tensorContent: content },
      },
    });
    assert.ok(raw.payload.kind === 'tensor');
    assert.equal(raw.payload.tensor.dtype, 'float32');
    assert.deepEqual(toNumbers(raw.payload.tensor), [1.5, -2]);
    const back = seldonToJson(raw, 'tftensor') as { data: { tftensor: Record<string, unknown> } };
    assert.deepEqual(back.data.tftensor, {
      dtype: 'DT_FLOAT',
      tensorShape: { dim: [{ size: '1' }, { size: '2' }] },
      tensorContent: content,
    });
    const ints = seldonFromJson({
      data: { tftensor: { dtype: 'DT_INT64', tensorShape: { dim: [{ size: '2' }] }, int64Val: ['7', 9] } },
    });
    assert.ok(ints.payload.kind === 'tensor');
    assert.equal(ints.payload.tensor.dtype, 'int64');
    assert.deepEqual(toNumbers(ints.payload.tensor), [7, 9]);
    const strs = seldonFromJson({
      data: {
        tftensor: {
          dtype: 'DT_STRING',
          tensorShape: { dim: [{ size: '1' }] },
          stringVal: [Buffer.from('hi').toString('base64')],
        },
      },
    });
    assert.ok(strs.payload.kind === 'tensor' && strs.payload.tensor.dtype === 'string');
    assert.equal(Buffer.from(strs.payload.tensor.data[0] as Uint8Array).toString(), 'hi');
    bad(
      () => seldonFromJson({ data: { tftensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: 'x' }] } } } }),
      /dim\[0\]\.size/,
    );
    bad(
      () =>
        seldonFromJson({ data: { tftensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [] }, tensorContent: '%%' } } }),
      /base64/,
    );
  });

  it('binData (base64), strData, jsonData, and meta (puid, tags, routing, requestPath, metrics) both ways', () => {
    const meta = {
      puid: 'p',
      tags: { a: 1, b: { c: [true] } },
      routing: { r: 1 },
      requestPath: { n: 'img' },
      metrics: [{ key: 'k', type: 'GAUGE', value: 2, tags: { t: 'v' } }],
    };
    const bin = seldonFromJson({ meta, binData: Buffer.from([1, 2, 255]).toString('base64') });
    assert.ok(bin.payload.kind === 'bin');
    assert.deepEqual([...bin.payload.data], [1, 2, 255]);
    assert.deepEqual(seldonToJson(bin, 'tftensor'), { meta, binData: 'AQL/' });
    const str = seldonFromJson({ strData: 'hello' });
    assert.deepEqual(str.payload, { kind: 'str', data: 'hello' });
    assert.equal((seldonToJson(str, 'tftensor') as { strData: string }).strData, 'hello');
    const j = seldonFromJson({ jsonData: { x: [1, 'two', null] } });
    assert.deepEqual(j.payload, { kind: 'json', data: { x: [1, 'two', null] } });
    assert.deepEqual((seldonToJson(j, 'tftensor') as { jsonData: unknown }).jsonData, { x: [1, 'two', null] });
  });

  it('refuses what is not a SeldonMessage, naming the field', () => {
    bad(() => seldonFromJson([1]), /JSON object/);
    bad(() => seldonFromJson({ binData: 'AQ', strData: 'x' }), /binData and strData; send one/);
    bad(() => seldonFromJson({ data: { ndarray: [1], tensor: { shape: [1], values: [1] } } }), /ndarray and tensor/);
    bad(() => seldonFromJson({ meta: { puid: 3 } }), /meta\.puid/);
    bad(() => seldonFromJson({ binData: 'not base64!' }), /binData: expected a base64 string/);
    bad(() => seldonFromJson({ customData: {} }), /customData/);
  });

  it("Seldon's failure body, HTTP statuses for gRPC codes, Retry-After seconds", () => {
    assert.deepEqual(seldonErrorJson(501, 'no', 'UNIMPLEMENTED'), {
      status: { code: 501, info: 'no', reason: 'UNIMPLEMENTED', status: 'FAILURE' },
    });
    assert.equal(httpStatusOf(Code.INVALID_ARGUMENT), 400);
    assert.equal(httpStatusOf(Code.NOT_FOUND), 404);
    assert.equal(httpStatusOf(Code.RESOURCE_EXHAUSTED), 429);
    assert.equal(httpStatusOf(Code.UNIMPLEMENTED), 501);
    assert.equal(httpStatusOf(Code.UNAVAILABLE), 503);
    assert.equal(httpStatusOf(Code.DEADLINE_EXCEEDED), 504);
    assert.equal(retryAfterSeconds(1), 1);
    assert.equal(retryAfterSeconds(1001), 2);
    assert.equal(retryAfterSeconds(0), 1);
  });
});

describe('V2 REST body <-> wire request / answer', () => {
  it('JSON tensors: nested data flattened into the datatype field; parameters as typed parameters', () => {
    const body = Buffer.from(
      JSON.stringify({
        id: 'r',
        parameters: { puid: 'p', n: 3, ok: true, binary_data_output: true },
        inputs: [
          {
            name: 'x',
            datatype: 'INT32',
            shape: [2, 2],
            data: [
              [1, 2],
              [3, 4],
            ],
          },
        ],
        outputs: [{ name: 'y' }],
      }),
    );
    const r = v2RequestFromHttp(body, undefined);
    assert.deepEqual(r.wire.inputs?.[0]?.contents, { int_contents: [1, 2, 3, 4] });
    assert.deepEqual(r.wire.parameters, {
      puid: { string_param: 'p' },
      n: { int64_param: 3 },
      ok: { bool_param: true },
    });
    assert.ok(r.binaryOutput('anything'), 'binary_data_output applies to every output');
    const req = inferRequestFromWire(r.wire);
    assert.equal(req.message.meta.puid, 'p');
    assert.ok(req.message.payload.kind === 'tensor');
    assert.deepEqual(toNumbers(req.message.payload.tensor), [1, 2, 3, 4]);
  });

  it('binary extension: JSON header then each binary input in order; BYTES length-prefixed', () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);
    const prefixed = Buffer.concat([Buffer.from([4, 0, 0, 0]), jpeg]);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'img', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: prefixed.length } }],
        outputs: [{ name: 'label', parameters: { binary_data: true } }, { name: 'score' }],
      }),
    );
    const r = v2RequestFromHttp(Buffer.concat([header, prefixed]), header.length);
    assert.ok(r.binaryOutput('label'));
    assert.ok(!r.binaryOutput('score'));
    const req = inferRequestFromWire(r.wire);
    assert.ok(req.message.payload.kind === 'bin', 'one BYTES element is binData: the JPEG itself');
    assert.deepEqual([...req.message.payload.data], [...jpeg]);
    bad(() => v2RequestFromHttp(Buffer.concat([header, prefixed, Buffer.from([0])]), header.length), /1 bytes after/);
    bad(() => v2RequestFromHttp(header, header.length + 5), /not a length within/);
    bad(
      () =>
        v2RequestFromHttp(
          Buffer.from('{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]}'),
          undefined,
        ),
      /without an inference-header-content-length/,
    );
  });

  it('refuses malformed bodies, naming the field', () => {
    const req = (j: unknown): Buffer => Buffer.from(JSON.stringify(j));
    bad(() => v2RequestFromHttp(Buffer.from('{'), undefined), /not valid JSON/);
    bad(() => v2RequestFromHttp(req({}), undefined), /'inputs': expected an array/);
    bad(
      () => v2RequestFromHttp(req({ inputs: [{ name: 'x', datatype: 'FP32', shape: [-1], data: [] }] }), undefined),
      /shape/,
    );
    bad(
      () => v2RequestFromHttp(req({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: ['a'] }] }), undefined),
      /is not a number/,
    );
    bad(
      () => v2RequestFromHttp(req({ inputs: [{ name: 'x', datatype: 'BOOL', shape: [1], data: [1] }] }), undefined),
      /BOOL elements are booleans/,
    );
    bad(
      () => v2RequestFromHttp(req({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1] }] }), undefined),
      /data: expected an array/,
    );
  });

  it('answers: JSON data, or binary data after the header with binary_data_size; declared outputs from JSON rows', () => {
    const reply: InferMessage = {
      meta: emptyMeta('p'),
      payload: { kind: 'json', data: { predictions: [{ index: 0, score: 0.75, label: 'tench' }] } },
    };
    const declared = [
      { name: 'index', datatype: 'INT64' },
      { name: 'score', datatype: 'FP32' },
      { name: 'label', datatype: 'BYTES' },
    ];
    const outs = answerOutputs(reply, declared);
    const asJson = v2ResponseToHttp(outs, {
      modelName: 'g',
      id: 'i',
      parameters: { puid: 'p' },
      binaryOutput: () => false,
    });
    assert.equal(asJson.binary.length, 0);
    assert.deepEqual(JSON.parse(asJson.json.toString()), {
      model_name: 'g',
      id: 'i',
      parameters: { puid: 'p' },
      outputs: [
        { name: 'index', datatype: 'INT64', shape: [1], data: [0] },
        { name: 'score', datatype: 'FP32', shape: [1], data: [0.75] },
        { name: 'label', datatype: 'BYTES', shape: [1], data: ['tench'] },
      ],
    });
    const asBin = v2ResponseToHttp(outs, {
      modelName: 'g',
      id: '',
      parameters: {},
      binaryOutput: (n) => n === 'score',
    });
    const head = JSON.parse(asBin.json.toString()) as { outputs: { parameters?: { binary_data_size: number } }[] };
    assert.deepEqual(head.outputs[1]?.parameters, { binary_data_size: 4 });
    assert.deepEqual([...new Float32Array(new Uint8Array(asBin.binary[0] as Uint8Array).buffer)], [0.75]);
    // Without a declaration, JSON goes as one BYTES element.
    assert.deepEqual(
      answerOutputs(reply).map((o) => o.name),
      ['json'],
    );
  });
});
