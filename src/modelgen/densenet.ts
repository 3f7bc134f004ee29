// DenseNet-169 exactly as torchvision.models.densenet169 builds it: growth rate 32, blocks of 6-12-32-32 dense
// layers, bottleneck width bn_size * growth = 128, 64 initial features, transitions halving the channels.
// Conv weights use torchvision's init, Kaiming-normal with the default fan_in.
import { INPUT_DIMS, INPUT_NAME, type Layers, NUM_CLASSES, OUTPUT_DIMS, OUTPUT_NAME } from './layers';

const GROWTH_RATE = 32;
const BLOCK_CONFIG = [6, 12, 32, 32] as const;
const BN_SIZE = 4;
const NUM_INIT_FEATURES = 64;
const COMPRESSION = 0.5;

export function buildDenseNet169(l: Layers): void {
  const g = l.graph;
  g.addInput(INPUT_NAME, INPUT_DIMS);
  g.addOutput(OUTPUT_NAME, OUTPUT_DIMS);

  let x = l.conv(INPUT_NAME, 'features.conv0', {
    inChannels: 3,
    outChannels: NUM_INIT_FEATURES,
    kernel: 7,
    stride: 2,
    pad: 3,
  });
  x = l.relu(l.batchNorm(x, 'features.norm0', NUM_INIT_FEATURES), 'features.relu0');
  x = l.maxPool(x, 'features.pool0', 3, 2, 1);

  let channels = NUM_INIT_FEATURES;
  BLOCK_CONFIG.forEach((layers, i) => {
    const block = `features.denseblock${i + 1}`;
    for (let j = 0; j < layers; j++) {
      const name = `${block}.denselayer${j + 1}`;
      const added = denseLayer(l, x, name, channels);
      // torchvision concatenates [block input, every new feature map so far]; growing one running Concat gives
      // the same tensor with two inputs per node instead of up to 33.
      x = l.concat([x, added], `${name}.cat`);
      channels += GROWTH_RATE;
    }
    if (i < BLOCK_CONFIG.length - 1) {
      const out = Math.floor(channels * COMPRESSION);
      x = transition(l, x, `features.transition${i + 1}`, channels, out);
      channels = out;
    }
  });

  x = l.relu(l.batchNorm(x, 'features.norm5', channels), 'relu');
  x = l.flatten(l.globalAvgPool(x, 'adaptive_avg_pool2d'), 'flatten');
  l.linear(x, 'classifier', channels, NUM_CLASSES, OUTPUT_NAME);
}

function denseLayer(l: Layers, x: string, name: string, inChannels: number): string {
  const width = BN_SIZE * GROWTH_RATE;
  let y = l.relu(l.batchNorm(x, `${name}.norm1`, inChannels), `${name}.relu1`);
  y = l.conv(y, `${name}.conv1`, { inChannels, outChannels: width, kernel: 1 });
  y = l.relu(l.batchNorm(y, `${name}.norm2`, width), `${name}.relu2`);
  return l.conv(y, `${name}.conv2`, { inChannels: width, outChannels: GROWTH_RATE, kernel: 3, pad: 1 });
}

function transition(l: Layers, x: string, name: string, inChannels: number, outChannels: number): string {
  let y = l.relu(l.batchNorm(x, `${name}.norm`, inChannels), `${name}.relu`);
  y = l.conv(y, `${name}.conv`, { inChannels, outChannels, kernel: 1 });
  return l.avgPool(y, `${name}.pool`, 2, 2);
}
