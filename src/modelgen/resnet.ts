// ResNet-50 exactly as torchvision.models.resnet50 builds it (the "v1.5" layout: in a downsampling bottleneck the
// stride sits on the 3x3 conv, not the first 1x1). Conv weights use torchvision's init, Kaiming-normal fan_out.
import { INPUT_DIMS, INPUT_NAME, type Layers, NUM_CLASSES, OUTPUT_DIMS, OUTPUT_NAME } from './layers';

const EXPANSION = 4;
/** Bottleneck blocks per stage and each stage's bottleneck width. */
const STAGES = [
  { blocks: 3, planes: 64, stride: 1 },
  { blocks: 4, planes: 128, stride: 2 },
  { blocks: 6, planes: 256, stride: 2 },
  { blocks: 3, planes: 512, stride: 2 },
] as const;

export function buildResNet50(l: Layers): void {
  const g = l.graph;
  g.addInput(INPUT_NAME, INPUT_DIMS);
  g.addOutput(OUTPUT_NAME, OUTPUT_DIMS);

  let x = l.conv(INPUT_NAME, 'conv1', { inChannels: 3, outChannels: 64, kernel: 7, stride: 2, pad: 3 });
  x = l.relu(l.batchNorm(x, 'bn1', 64), 'relu');
  x = l.maxPool(x, 'maxpool', 3, 2, 1);

  let inChannels = 64;
  STAGES.forEach((stage, s) => {
    for (let b = 0; b < stage.blocks; b++) {
      const stride = b === 0 ? stage.stride : 1;
      x = bottleneck(l, x, `layer${s + 1}.${b}`, inChannels, stage.planes, stride);
      inChannels = stage.planes * EXPANSION;
    }
  });

  x = l.flatten(l.globalAvgPool(x, 'avgpool'), 'flatten');
  l.linear(x, 'fc', inChannels, NUM_CLASSES, OUTPUT_NAME);
}

function bottleneck(l: Layers, x: string, name: string, inChannels: number, planes: number, stride: number): string {
  const outChannels = planes * EXPANSION;
  let y = l.conv(x, `${name}.conv1`, { inChannels, outChannels: planes, kernel: 1 });
  y = l.relu(l.batchNorm(y, `${name}.bn1`, planes), `${name}.relu1`);
  y = l.conv(y, `${name}.conv2`, { inChannels: planes, outChannels: planes, kernel: 3, stride, pad: 1 });
  y = l.relu(l.batchNorm(y, `${name}.bn2`, planes), `${name}.relu2`);
  y = l.conv(y, `${name}.conv3`, { inChannels: planes, outChannels, kernel: 1 });
  y = l.batchNorm(y, `${name}.bn3`, outChannels);

  let identity = x;
  if (stride !== 1 || inChannels !== outChannels) {
    identity = l.conv(x, `${name}.downsample.0`, { inChannels, outChannels, kernel: 1, stride });
    identity = l.batchNorm(identity, `${name}.downsample.1`, outChannels);
  }
  return l.relu(l.add(y, identity, `${name}.add`), `${name}.relu3`);
}
