/**
 * jpeg-input where libturbojpeg cannot be loaded (a machine without Debian's libturbojpeg0): it says so once at
 * start-up, naming the reason and the package, and decodes with libvips, giving the same crops. node --test runs each
 * file in its own process, so making koffi's load() fail here, before turbo-jpeg.ts first uses it, is this file's own.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { Component } from '../../../src/components/api';
import jpegInput from '../../../src/components/builtin/jpeg-input';
import { turboJpegStatus } from '../../../src/components/builtin/turbo-jpeg';
import { callContext, repoRoot } from './helpers';

/** The reason we expect: the library missing, or (where the optional koffi did not install) koffi itself. */
let expected = /libturbojpeg\.so\.0: cannot open shared object/;
try {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi') as { load: (name: string) => unknown };
  koffi.load = (name: string) => {
    throw new Error(`${name}: cannot open shared object file: No such file or directory`);
  };
} catch {
  expected = /Cannot find module 'koffi'/;
}

describe('jpeg-input without libturbojpeg', () => {
  it('warns once with the reason and the package, then decodes with libvips to the same crop', async () => {
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    const ctx = { nodeName: 'jpeg-input', nodeType: 'TRANSFORMER' as const, baseDir: repoRoot(), logger };
    const auto: Component = await jpegInput.create({ outputDtype: 'uint8', resize: 64, crop: 56 }, ctx);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0] as string, /TurboJPEG unavailable \(/);
    assert.match(warnings[0] as string, expected);
    assert.match(warnings[0] as string, /Install libturbojpeg0/);
    const status = turboJpegStatus();
    assert.equal(status.available, false);

    const file = path.join(repoRoot(), 'test/fixtures/pil-jpeg/s422.jpg');
    const out = await auto.transformInput!({ kind: 'bin', data: readFileSync(file) }, callContext());
    assert.ok(out.kind === 'tensor');
    const got = out.tensor.data as Uint8Array;
    const n = 56 * 56;
    const hwc = Buffer.alloc(n * 3);
    for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) hwc[i * 3 + k] = got[k * n + i] as number;
    assert.ok(hwc.equals(readFileSync(`${file}.rgb`)), "libvips's crop differs from Pillow's");
    assert.equal(turboJpegStatus().decoded, 0);
  });
});
