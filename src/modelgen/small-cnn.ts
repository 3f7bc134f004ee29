// A small CNN with the building blocks of both big networks (conv + BN + ReLU, max pool, a residual Add, a
// DenseNet-style pre-activation Concat, average pools, Gemm classifier), seeded random weights. Tests use it where
// ResNet-50 would be too slow to build or run: the quantizer's agreement test, and a "slow" model (large input,
// several blocks) that keeps onnx-model's instances busy long enough to queue, cancel and crash requests.
import { BATCH_DIM, INPUT_NAME, Layers, OUTPUT_NAME } from './layers';
import { OnnxGraphBuilder } from './onnx-builder';
import { Prng } from './prng';

export interface SmallCnnOptions {
  /** Input height and width. */
  size?: number;
  /** Channels of the first conv. */
  width?: number;
  /** Residual blocks at full width. */
  blocks?: number;
  classes?: number;
  seed?: number;
}

export function buildSmallCnn(opts: SmallCnnOptions = {}): Buffer {
  const size = opts.size ?? 32;
  const width = opts.width ?? 16;
  const blocks = opts.blocks ?? 1;
  const classes = opts.classes ?? 10;
  const g = new OnnxGraphBuilder('small_cnn_synthetic');
  // Random BatchNorm statistics, so that folding BN into convs (the quantizer does) is really exercised.
  const l = new Layers(g, new Prng(opts.seed ?? 1), 'fan_in', { randomBatchNorm: true });
  g.addInput(INPUT_NAME, [BATCH_DIM, 3, size, size]);
  g.addOutput(OUTPUT_NAME, [BATCH_DIM, classes]);

  let x = l.conv(INPUT_NAME, 'conv1', { inChannels: 3, outChannels: width, kernel: 3, pad: 1 });
  x = l.relu(l.batchNorm(x, 'bn1', width), 'relu1');
  x = l.maxPool(x, 'pool1', 3, 2, 1);
  for (let b = 0; b < blocks; b++) {
    const name = `block${b}`;
    let y = l.conv(x, `${name}.conv1`, { inChannels: width, outChannels: width, kernel: 3, pad: 1 });
    y = l.relu(l.batchNorm(y, `${name}.bn1`, width), `${name}.relu1`);
    y = l.conv(y, `${name}.conv2`, { inChannels: width, outChannels: width, kernel: 3, pad: 1 });
    y = l.batchNorm(y, `${name}.bn2`, width);
    x = l.relu(l.add(y, x, `${name}.add`), `${name}.relu2`);
  }
  // DenseNet-style: BN-ReLU-conv on the running features, concatenated to them.
  const growth = Math.max(1, width >> 1);
  let d = l.relu(l.batchNorm(x, 'dense.norm', width), 'dense.relu');
  d = l.conv(d, 'dense.conv', { inChannels: width, outChannels: growth, kernel: 1 });
  x = l.concat([x, d], 'dense.cat');
  x = l.avgPool(x, 'pool2', 2, 2);
  x = l.flatten(l.globalAvgPool(x, 'gap'), 'flatten');
  l.linear(x, 'fc', width + growth, classes, OUTPUT_NAME);
  return g.encode({
    producerName: 'infergraph-modelgen',
    producerVersion: '1',
    docString: `SYNTHETIC small CNN (${size}x${size} input, width ${width}, ${blocks} residual blocks), random weights`,
    metadata: [
      ['infergraph.synthetic', 'true'],
      ['infergraph.arch', 'small-cnn'],
    ],
  });
}
