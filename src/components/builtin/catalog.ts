import type { ComponentInfo, ParamSchema } from '../api';

/** The parameters both learning routers take (src/components/builtin/bandit-router.ts). */
const BANDIT_PARAMETERS = {
  n_branches: {
    type: 'integer',
    required: true,
    description: "Number of children the router chooses among (Seldon's n_branches); give the node that many children.",
  },
  seed: {
    type: 'integer',
    description: "Seed of the router's PRNG: the same seed and the same calls give the same choices. Unset: random.",
  },
  verbose: { type: 'boolean', default: false, description: 'Log every choice and every feedback (info level).' },
  stateFile: {
    type: 'string',
    description:
      'Snapshot of the learned counts (JSON), resolved against the manifest folder: read at start when it exists, ' +
      'written every snapshotMs while it changes and on shutdown. Unset: state lives and dies with the process.',
  },
  snapshotMs: {
    type: 'integer',
    default: 5000,
    description: 'How often a changed state is written to stateFile (ms).',
  },
} satisfies Record<string, ParamSchema>;

const BANDIT_DETAILS =
  "A feedback (Seldon SendFeedback) with reward r for a request of n rows (a tensor's first dimension; 1 for other " +
  'payloads) counts round(r·n) successes and the rest failures for the branch the router chose, which the executor ' +
  "finds in the answer's meta.routing. A reward outside 0..1 is INVALID_ARGUMENT. State is per replica (per " +
  'process): see docs/feedback.md for stateFile snapshots and sticky routing.';

/**
 * What each built-in ImageNet component (and learning router) is, serves and takes: plain data, so manifest validation and the operator
 * read it without loading the component modules (sharp, onnxruntime). Each module spreads its entry.
 */
export const CATALOG = {
  'jpeg-input': {
    name: 'jpeg-input',
    description:
      "ImageNet preprocessing as torchvision does it on PIL images: JPEG/PNG/WebP binData -> Image.convert('RGB') " +
      '(stored values: no ICC conversion, no EXIF rotation, alpha dropped), resize shorter side with Pillow bilinear, ' +
      'centre crop, /255, mean/std normalisation -> float32 NCHW [1,3,crop,crop] tftensor named "input".',
    types: ['TRANSFORMER'],
    parameters: {
      resize: {
        type: 'integer',
        default: 256,
        description: 'Shorter side after resizing (pixels), bilinear as torchvision Resize.',
      },
      crop: { type: 'integer', default: 224, description: 'Side of the centre crop (pixels); must not exceed resize.' },
      mean: {
        type: 'string',
        default: '0.485,0.456,0.406',
        description: 'Per-channel (R,G,B) mean subtracted after /255.',
      },
      std: {
        type: 'string',
        default: '0.229,0.224,0.225',
        description: 'Per-channel (R,G,B) standard deviation divided by.',
      },
      maxPixels: {
        type: 'integer',
        default: 40_000_000,
        description:
          'Largest accepted image (width x height); bigger images are rejected with INVALID_ARGUMENT before decoding.',
      },
      outputDtype: {
        type: 'string',
        default: 'float32',
        description: "'float32' (normalised) or 'uint8' (the cropped pixels unnormalised, still NCHW).",
      },
      failOn: {
        type: 'string',
        default: 'truncated',
        description:
          "Decoder strictness (sharp failOn): 'truncated' rejects cut-off images but accepts benign libjpeg warnings, " +
          "as Pillow does; 'warning' also rejects images with corrupt data segments; 'none' decodes whatever it can.",
      },
      exifOrientation: {
        type: 'boolean',
        default: false,
        description:
          'Rotate/flip by the EXIF orientation tag (phone photos shown upright). torchvision does not, so off by ' +
          'default. ' +
          'Dev-100 pixels: unchanged (no dev image has the tag); latency: within noise.',
      },
      colourManagement: {
        type: 'boolean',
        default: false,
        description:
          'Convert embedded ICC profiles (and CMYK) to sRGB through the profiles, as an image viewer shows them. ' +
          'torchvision keeps the stored values, so off by default. Dev-100 pixels: 5 of the 23 images with a profile ' +
          'change (the rest carry sRGB-like profiles), mean 0.10 grey levels over all 100, worst image 3.1 (max 35); ' +
          'latency +9 % (median).',
      },
      fastShrinkOnLoad: {
        type: 'boolean',
        default: false,
        description:
          "Resample with libvips (JPEG shrink-on-load, then its 'linear' reduce) instead of Pillow's bilinear: not the " +
          'reference pixels (dev-100: 91 images differ, mean 0.22 grey levels, worst image 1.7, max 49), ' +
          'but faster on large photos (dev-100 median -13 %; a 12 MP photo 9-13 ms instead of 55-85 ms). ' +
          'Images smaller than resize are always resampled exactly.',
      },
      decoder: {
        type: 'string',
        default: 'auto',
        description:
          "JPEG decoder: 'auto' decodes plain grey and YCbCr JPEGs with libjpeg-turbo's TurboJPEG (the system's " +
          'libturbojpeg.so.0, Debian libturbojpeg0; the same accurate DCT as Pillow, so the same pixels) and ' +
          "everything else, or everything when the library is missing, with libvips; 'libvips' always uses libvips. " +
          'Dev-100 median: 1.5 ms against 2.8 ms to decode.',
      },
      maxDecodeBytes: {
        type: 'integer',
        default: 320 * 1024 * 1024,
        description:
          'Decode memory budget of the node, bytes: each decode holds width x height x channels x bytes per sample ' +
          '(from the header) until done; requests wait (FIFO, within their deadline) until theirs fits, and an image ' +
          'larger than the whole budget is rejected with INVALID_ARGUMENT. The default admits any image under ' +
          'maxPixels (4 channels x 16 bits) one at a time.',
      },
      maxConcurrentDecodes: {
        type: 'integer',
        default: 0,
        description: 'Decodes running at once (the rest wait); 0 = the number of cores.',
      },
    },
  },
  'onnx-model': {
    name: 'onnx-model',
    description:
      'Runs an ONNX model with onnxruntime-node (CPU): one tensor in, validated against the model, one tensor out.',
    types: ['MODEL'],
    parameters: {
      model: { type: 'path', required: true, description: 'The .onnx file (relative to the manifest folder).' },
      intraOpThreads: { type: 'integer', default: 1, description: 'ORT intra-op threads (0 = one per core).' },
      interOpThreads: { type: 'integer', default: 1, description: 'ORT inter-op threads (0 = one per core).' },
      spinning: {
        type: 'boolean',
        default: false,
        description:
          'Let ORT worker threads busy-wait between ops; off by default because it starves other nodes on shared cores.',
      },
      graphOptimization: {
        type: 'string',
        default: 'all',
        description: "ORT graph optimisation level: 'disabled', 'basic', 'extended' or 'all'.",
      },
      softmax: {
        type: 'boolean',
        default: false,
        description: 'Apply softmax along the last axis of the output (raw scores -> probabilities).',
      },
      inputName: { type: 'string', description: "Model input to feed (default: the model's only input)." },
      outputName: { type: 'string', description: "Model output to return (default: the model's first output)." },
      normalizeUint8: {
        type: 'boolean',
        default: false,
        description:
          'Accept uint8 [N,C,H,W] pixels (jpeg-input outputDtype: uint8, a quarter of the bytes on the wire) and normalise them here, ' +
          '(v/255 - mean)/std per channel, exactly as jpeg-input would; float32 input is still taken as it is.',
      },
      mean: {
        type: 'string',
        default: '0.485,0.456,0.406',
        description: 'Per-channel mean for normalizeUint8 (after /255).',
      },
      std: {
        type: 'string',
        default: '0.229,0.224,0.225',
        description: 'Per-channel standard deviation for normalizeUint8.',
      },
      instances: {
        type: 'integer',
        default: 1,
        description:
          "Worker threads, each with its own ORT session (Triton instance group); inference never runs on the node's main thread.",
      },
      maxQueue: {
        type: 'integer',
        default: 64,
        description:
          'Requests that may wait for a free instance; beyond it a request is refused at once with RESOURCE_EXHAUSTED.',
      },
      maxBatch: {
        type: 'integer',
        default: 1,
        description:
          'Dynamic batching: requests queued together run as one batch of up to this many rows (needs a symbolic batch dimension); 1 = off.',
      },
      instanceNice: {
        type: 'integer',
        default: 10,
        description:
          'Linux nice value (0-19) for the instance threads, so the main thread (health, admission) runs first on a busy CPU.',
      },
      sessionCache: {
        type: 'string',
        default: 'auto',
        description:
          "Cache of the optimised graph, so a restart loads it in a tenth of the time: 'auto' (INFERGRAPH_ONNX_CACHE, " +
          "else $XDG_CACHE_HOME/infergraph/onnxruntime or ~/.cache/infergraph/onnxruntime), 'off', or a folder " +
          '(relative to the manifest folder). Outputs are bit-identical; see docs/reliability.md.',
      },
      maxQueueDelayMs: {
        type: 'integer',
        default: 2,
        description: 'With maxBatch > 1: how long a free instance waits for more requests to fill a batch.',
      },
    },
  },
  'average-combiner': {
    name: 'average-combiner',
    description: "Element-wise mean of the children's tensors (identical shapes), optionally weighted.",
    types: ['COMBINER'],
    parameters: {
      weights: {
        type: 'string',
        description:
          'Comma-separated non-negative weights, one per child in order; normalised by their sum. Default: equal.',
      },
    },
  },
  'top1-output': {
    name: 'top1-output',
    description:
      'Class scores [N,C] -> best class per row (index, score, WordNet id and name from a labels file), optional top-k. ' +
      'Exact ties go to the lowest index: the first tied class is the top-1, and top-k lists tied classes in index order.',
    types: ['OUTPUT_TRANSFORMER'],
    parameters: {
      labels: { type: 'path', description: 'TSV file of index<TAB>wnid<TAB>name lines, one per class in order.' },
      softmax: {
        type: 'boolean',
        default: false,
        description: 'Apply softmax to raw scores before reporting (leave off for probabilities).',
      },
      topK: {
        type: 'integer',
        default: 1,
        description: 'Also report the k best classes per row (when > 1), best first, ties by lower index.',
      },
    },
    outputs: [
      { name: 'index', datatype: 'INT64', shape: [-1] },
      { name: 'score', datatype: 'FP32', shape: [-1] },
      { name: 'label', datatype: 'BYTES', shape: [-1] },
    ],
  },
  'epsilon-greedy': {
    name: 'epsilon-greedy',
    description:
      "Seldon's epsilon-greedy router: the child with the best observed success rate with probability 1-epsilon, " +
      'otherwise one of the other children uniformly; learns from feedback rewards (Bernoulli, 0..1).',
    details:
      BANDIT_DETAILS +
      ' Update: successes and tries per branch; value = successes / tries; the best branch is the highest value, ties ' +
      'broken at random (untried branches count 0).',
    types: ['ROUTER'],
    parameters: {
      ...BANDIT_PARAMETERS,
      epsilon: {
        type: 'number',
        default: 0.1,
        description: 'Probability of sending a request to a branch other than the current best (0..1).',
      },
      best_branch: {
        type: 'integer',
        description: 'Branch that starts as the best (0..n_branches-1). Unset: one chosen at random.',
      },
    },
  },
  'thompson-sampling': {
    name: 'thompson-sampling',
    description:
      "Seldon's Thompson-sampling router, Beta-Bernoulli: draws a success rate for each child from its Beta " +
      'posterior and routes to the largest draw; learns from feedback rewards (Bernoulli, 0..1).',
    details:
      BANDIT_DETAILS +
      " Update: a branch's posterior is Beta(alpha + successes, beta + failures); Gamma draws by Marsaglia and Tsang.",
    types: ['ROUTER'],
    parameters: {
      ...BANDIT_PARAMETERS,
      alpha: { type: 'number', default: 1, description: "Prior successes of every branch (Beta prior; Seldon's: 1)." },
      beta: { type: 'number', default: 1, description: "Prior failures of every branch (Beta prior; Seldon's: 1)." },
    },
  },
} satisfies Record<string, ComponentInfo>;
