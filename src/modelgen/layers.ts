// torchvision-style layers on top of the graph builder. Initializers are named like the torchvision state_dict
// ('layer1.0.conv1.weight', 'features.norm0.running_var') and node outputs like the module path, so a generated
// graph reads side by side with the PyTorch model it imitates.
import { attr, type OnnxGraphBuilder } from './onnx-builder';
import type { Prng } from './prng';

/** Graph I/O shared by both networks: ImageNet NCHW in, raw logits out, batch size left symbolic. */
export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'output';
export const BATCH_DIM = 'batch_size';
export const NUM_CLASSES = 1000;
export const INPUT_DIMS = [BATCH_DIM, 3, 224, 224] as const;
export const OUTPUT_DIMS = [BATCH_DIM, NUM_CLASSES] as const;

/** torchvision's BatchNorm2d default. */
const BN_EPSILON = 1e-5;
/** Std of the classifier weights: small, so logits stay in a readable range. */
const LINEAR_STD = 0.01;

/**
 * Which fan He/Kaiming-normal init divides by: torchvision ResNet uses fan_out, DenseNet the default fan_in.
 * Either way std = sqrt(2 / fan), the ReLU gain.
 */
export type FanMode = 'fan_in' | 'fan_out';

export interface ConvSpec {
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride?: number;
  pad?: number;
}

export class Layers {
  constructor(
    readonly graph: OnnxGraphBuilder,
    private readonly rng: Prng,
    private readonly fanMode: FanMode,
    private readonly opts: { randomBatchNorm?: boolean } = {},
  ) {}

  /** Conv2d without bias (every conv in both networks is followed by BatchNorm). */
  conv(x: string, name: string, spec: ConvSpec): string {
    const { inChannels, outChannels, kernel } = spec;
    const stride = spec.stride ?? 1;
    const pad = spec.pad ?? 0;
    const fan = (this.fanMode === 'fan_in' ? inChannels : outChannels) * kernel * kernel;
    const dims = [outChannels, inChannels, kernel, kernel];
    const weight = new Float32Array(outChannels * inChannels * kernel * kernel);
    this.rng.fillNormal(weight, Math.sqrt(2 / fan));
    const w = this.graph.addInitializer(`${name}.weight`, dims, weight, { trainable: true });
    return this.graph.addNode('Conv', [x, w], [name], {
      kernel_shape: attr.ints([kernel, kernel]),
      strides: attr.ints([stride, stride]),
      pads: attr.ints([pad, pad, pad, pad]),
      dilations: attr.ints([1, 1]),
      group: attr.int(1),
    });
  }

  /**
   * Eval-mode BatchNorm2d with torchvision's initial state: gamma 1, beta 0, running mean 0, running var 1; or, with
   * randomBatchNorm, statistics that look trained (gamma ~ 1 ± 0.2, beta and mean ~ ±0.1, var ~ 1 + |0.3 N|).
   */
  batchNorm(x: string, name: string, channels: number): string {
    const g = this.graph;
    const gamma = new Float32Array(channels).fill(1);
    const beta = new Float32Array(channels);
    const runMean = new Float32Array(channels);
    const runVar = new Float32Array(channels).fill(1);
    if (this.opts.randomBatchNorm) {
      const noise = (std: number): Float32Array => this.rng.fillNormal(new Float32Array(channels), std);
      noise(0.2).forEach((v, i) => (gamma[i] = 1 + v));
      beta.set(noise(0.1));
      runMean.set(noise(0.1));
      noise(0.3).forEach((v, i) => (runVar[i] = 1 + Math.abs(v)));
    }
    const scale = g.addInitializer(`${name}.weight`, [channels], gamma, { trainable: true });
    const bias = g.addInitializer(`${name}.bias`, [channels], beta, { trainable: true });
    const mean = g.addInitializer(`${name}.running_mean`, [channels], runMean, { trainable: false });
    const variance = g.addInitializer(`${name}.running_var`, [channels], runVar, { trainable: false });
    return g.addNode('BatchNormalization', [x, scale, bias, mean, variance], [name], {
      epsilon: attr.float(BN_EPSILON),
    });
  }

  relu(x: string, name: string): string {
    return this.graph.addNode('Relu', [x], [name]);
  }

  maxPool(x: string, name: string, kernel: number, stride: number, pad: number): string {
    return this.graph.addNode('MaxPool', [x], [name], {
      kernel_shape: attr.ints([kernel, kernel]),
      strides: attr.ints([stride, stride]),
      pads: attr.ints([pad, pad, pad, pad]),
    });
  }

  avgPool(x: string, name: string, kernel: number, stride: number): string {
    return this.graph.addNode('AveragePool', [x], [name], {
      kernel_shape: attr.ints([kernel, kernel]),
      strides: attr.ints([stride, stride]),
    });
  }

  globalAvgPool(x: string, name: string): string {
    return this.graph.addNode('GlobalAveragePool', [x], [name]);
  }

  add(a: string, b: string, name: string): string {
    return this.graph.addNode('Add', [a, b], [name]);
  }

  concat(xs: readonly string[], name: string): string {
    return this.graph.addNode('Concat', xs, [name], { axis: attr.int(1) });
  }

  flatten(x: string, name: string): string {
    return this.graph.addNode('Flatten', [x], [name], { axis: attr.int(1) });
  }

  /** nn.Linear as Gemm(x, W^T) + b with W stored [out, in] like PyTorch. */
  linear(x: string, name: string, inFeatures: number, outFeatures: number, output = name): string {
    const g = this.graph;
    const weight = this.rng.fillNormal(new Float32Array(outFeatures * inFeatures), LINEAR_STD);
    const w = g.addInitializer(`${name}.weight`, [outFeatures, inFeatures], weight, { trainable: true });
    const b = g.addInitializer(`${name}.bias`, [outFeatures], new Float32Array(outFeatures), { trainable: true });
    return g.addNode(
      'Gemm',
      [x, w, b],
      [output],
      { alpha: attr.float(1), beta: attr.float(1), transB: attr.int(1) },
      name,
    );
  }
}
