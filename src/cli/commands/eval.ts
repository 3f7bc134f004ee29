import type { Command } from 'commander';
import { evaluate } from '../../client/eval';
import { DEFAULTS } from '../../graph/manifest';
import type { ReferenceAgreement } from '../../client/reference';
import { intFlag } from '../flags';

function printAgreement(a: ReferenceAgreement, pct: (x: number) => string): void {
  const over = a.top5Compared < a.compared ? ` (over the ${a.top5Compared} images with a top-5 in both)` : '';
  const top5 = a.top5Overlap === null ? '' : `   top-5 overlap: ${pct(a.top5Overlap)}${over}`;
  console.log(`reference ${a.file}: top-1 agreement ${a.top1Agree}/${a.compared} (${pct(a.top1Agreement)})${top5}`);
  for (const d of a.disagree) console.log(`  disagrees: ${d.file}: got ${d.got}, reference ${d.reference}`);
  if (a.notInReference.length) {
    const more = a.notInReference.length > 5 ? ', ...' : '';
    const some = a.notInReference.slice(0, 5).join(', ');
    console.log(`  not in the reference (not compared): ${a.notInReference.length} (${some}${more})`);
  }
}

interface EvalFlags {
  addr: string;
  images: string;
  labels: string;
  concurrency: string;
  limit?: string;
  timeout: string;
  maxMessageBytes: string;
  reference?: string;
  json?: boolean;
}

const MAX_MESSAGE_DEFAULT = String(DEFAULTS.maxMessageBytes);

/** `infergraph eval`: top-1/top-5 accuracy and latency of a running classification graph over labelled images. */
export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('send every <wnid>_*.JPEG of a folder through a running graph; report top-1/top-5 and latency')
    .requiredOption('--addr <host:port>', 'executor address')
    .requiredOption('--images <dir>', 'folder of <wnid>_<name>.JPEG files')
    .requiredOption('--labels <file>', 'labels TSV: index<TAB>wnid<TAB>name')
    .option('-c, --concurrency <n>', 'requests in flight', '1')
    .option('--limit <n>', 'only the first n images')
    .option('--timeout <ms>', 'deadline per request', '30000')
    .option('--max-message-bytes <n>', "largest request or reply (the graph's maxMessageBytes)", MAX_MESSAGE_DEFAULT)
    .option('--reference <file>', 'reference predictions TSV (file<TAB>top1<TAB>top5): report agreement image by image')
    .option('--json', 'print the result as JSON')
    .action(async (o: EvalFlags) => {
      const r = await evaluate({
        address: o.addr,
        imagesDir: o.images,
        labelsFile: o.labels,
        concurrency: intFlag('--concurrency', o.concurrency, { min: 1, max: 1024 }),
        ...(o.limit !== undefined ? { limit: intFlag('--limit', o.limit, { min: 1 }) } : {}),
        timeoutMs: intFlag('--timeout', o.timeout, { min: 1 }),
        maxMessageBytes: intFlag('--max-message-bytes', o.maxMessageBytes, { min: 1024 }),
        ...(o.reference ? { referenceFile: o.reference } : {}),
      });
      if (o.json) {
        console.log(JSON.stringify(r, null, 2));
      } else {
        const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
        console.log(`images: ${r.images} (${r.errors.length} errors) in ${r.wallSeconds.toFixed(1)} s`);
        console.log(
          `top-1: ${pct(r.top1)}   top-5: ${r.top5 === null ? 'n/a (graph answers fewer than 5 classes)' : pct(r.top5)}`,
        );
        console.log(
          `latency ms: p50 ${r.latencyMs.p50.toFixed(1)}  p90 ${r.latencyMs.p90.toFixed(1)}  p99 ${r.latencyMs.p99.toFixed(1)}  mean ${r.latencyMs.mean.toFixed(1)}`,
        );
        if (r.reference) printAgreement(r.reference, pct);
        for (const e of r.errors.slice(0, 10)) console.log(`error: ${e.file}: ${e.error}`);
      }
      if (r.errors.length) process.exitCode = 1;
    });
}
