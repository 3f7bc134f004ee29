/**
 * Peak RSS of N concurrent jpeg-input decodes of one generated SIDExSIDE 16-bit RGB PNG (issue 11's memory target).
 * Prints one JSON line. Run as its own process: node dist/test/helpers/decode-rss.js N SIDE
 */
import sharp from 'sharp';
import jpegInput from '../../src/components/builtin/jpeg-input';
import { CollectingCallContext, plainWork } from '../../src/components/call-context';
import { emptyMeta } from '../../src/message/message';

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 8);
  const side = Number(process.argv[3] ?? 6300);
  const png = await sharp({
    create: { width: side, height: side, channels: 3, background: { r: 100, g: 150, b: 200 } },
  })
    .toColourspace('rgb16')
    .png({ compressionLevel: 9 })
    .toBuffer();
  if (global.gc) global.gc();
  let peak = process.memoryUsage().rss;
  const base = peak;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const c = await jpegInput.create({ outputDtype: 'uint8' }, {
    nodeName: 'j',
    nodeType: 'TRANSFORMER',
    baseDir: '/',
    logger,
  } as never);
  const t0 = performance.now();
  const results = await Promise.allSettled(
    Array.from({ length: n }, () =>
      Promise.resolve(
        c.transformInput!(
          { kind: 'bin', data: png },
          new CollectingCallContext(emptyMeta(), new AbortController().signal, undefined, plainWork),
        ),
      ),
    ),
  );
  peak = Math.max(peak, process.memoryUsage().rss);
  clearInterval(timer);
  const mb = (x: number): number => Math.round(x / 2 ** 20);
  console.log(
    JSON.stringify({
      images: n,
      side,
      fileBytes: png.length,
      baseMB: mb(base),
      peakMB: mb(peak),
      ms: Math.round(performance.now() - t0),
      results: results.map((r) => (r.status === 'fulfilled' ? 'ok' : String((r.reason as Error).message))),
    }),
  );
}

void main();
