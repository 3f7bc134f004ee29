import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeldonClient } from '../../src/client/seldon-client';
import { Code, toInferError } from '../../src/errors';
import type { Payload } from '../../src/message/message';
import { checkHealth } from '../../src/runner/health';
import { fromNumbers, toNumbers } from '../../src/tensor/tensor';
import { haveOpenssl, makeCerts, type Certs } from '../helpers/certs';
import { upGraph, type RunningGraph } from '../helpers/graph-process';

/** spec.tls with real processes: TLS + client certificates on the executor's port, mutual TLS on every hop. */

const vec = (xs: number[]): Payload => ({ kind: 'tensor', tensor: fromNumbers('float32', [1, xs.length], xs) });

for (const transport of ['tcp', 'unix'])
  describe(
    `TLS and mutual TLS (spec.tls), hops over ${transport}`,
    { skip: haveOpenssl() ? false : 'openssl is not installed' },
    () => {
      let dir: string;
      let certs: Certs;
      let g: RunningGraph;
      let client: { cert: string; key: string };
      let hop: { cert: string; key: string };
      before(async () => {
        dir = mkdtempSync(path.join(os.tmpdir(), 'infergraph-tls-'));
        certs = makeCerts(dir);
        certs.leaf('executor');
        hop = certs.leaf('hop');
        client = certs.leaf('client');
        writeFileSync(
          path.join(dir, 'g.yaml'),
          `apiVersion: infergraph.dev/v1alpha1
kind: InferenceGraph
metadata: {name: tls}
spec:
  tls:
    server: {cert: executor.crt, key: executor.key, clientCa: ${path.basename(certs.ca)}}
    hops: {ca: ${path.basename(certs.ca)}, cert: hop.crt, key: hop.key}
  graph:
    name: sum
    type: COMBINER
    implementation: sum-combiner
    children:
      - {name: a, type: MODEL, implementation: identity}
      - {name: b, type: MODEL, implementation: identity}
`,
        );
        g = await upGraph(path.join(dir, 'g.yaml'), ['--transport', transport]);
      });
      after(async () => {
        await g?.stop();
        rmSync(dir, { recursive: true, force: true });
      });

      const read = (f: string): Buffer => readFileSync(f);

      it('a client with a certificate from the CA gets answers over TLS, through mutual-TLS hops', async () => {
        const creds = grpc.credentials.createSsl(read(certs.ca), read(client.key), read(client.cert));
        const c = new SeldonClient(g.address, { credentials: creds });
        try {
          const r = await c.predict(vec([1, 2]));
          assert.ok(r.payload.kind === 'tensor');
          assert.deepEqual(toNumbers(r.payload.tensor), [2, 4]);
        } finally {
          c.close();
        }
      });

      it('refused: a plaintext client, and a TLS client without a client certificate', async () => {
        for (const creds of [grpc.credentials.createInsecure(), grpc.credentials.createSsl(read(certs.ca))]) {
          const c = new SeldonClient(g.address, { credentials: creds });
          try {
            const err = await c.predict(vec([1]), { timeoutMs: 3000 }).then(
              () => assert.fail('answered'),
              (e: unknown) => toInferError(e),
            );
            assert.ok(err.code === Code.UNAVAILABLE || err.code === Code.DEADLINE_EXCEEDED, err.message);
          } finally {
            c.close();
          }
        }
      });

      it('a node answers only a peer holding a certificate from the hop CA', async () => {
        const node = g.procs.get('a');
        assert.ok(node);
        await assert.rejects(checkHealth(node.address, '', 2000));
        const other = makeCerts(dir, 'other-ca').leaf('intruder'); // a certificate from another CA
        await assert.rejects(
          checkHealth(
            node.address,
            '',
            2000,
            grpc.credentials.createSsl(read(certs.ca), read(other.key), read(other.cert)),
          ),
        );
        assert.equal(
          await checkHealth(
            node.address,
            '',
            2000,
            grpc.credentials.createSsl(read(certs.ca), read(hop.key), read(hop.cert)),
          ),
          'SERVING',
        );
      });
    },
  );
