/**
 * ImageNet-style normalisation of planar uint8 pixels, (v / 255 - mean[c]) / std[c], through a 256-entry table per
 * channel (cheaper than a multiply-add per sample). The floats are torchvision's: ToTensor's `div(255)` and
 * Normalize's `sub_(mean).div_(std)` each round to float32, with mean and std float32 tensors, so every step here is
 * rounded with Math.fround (one float64 operation on float32 operands, rounded once, is the float32 operation).
 * jpeg-input can send uint8 (4× fewer bytes on every hop) and onnx-model then normalises on arrival with the same
 * table, so both placements give the same floats.
 */

export function normalisationTable(mean: readonly number[], std: readonly number[]): Float32Array {
  const lut = new Float32Array(mean.length * 256);
  for (let c = 0; c < mean.length; c++) {
    const m = Math.fround(mean[c] as number);
    const s = Math.fround(std[c] as number);
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = Math.fround(Math.fround(v / 255) - m) / s;
  }
  return lut;
}

/** [N, C, ...] uint8 → float32 of the same shape; channel = axis 1. */
export function normalisePlanar(src: Uint8Array, shape: readonly number[], lut: Float32Array): Float32Array {
  const channels = shape[1] ?? 1;
  const plane = shape.slice(2).reduce((a, b) => a * b, 1);
  const out = new Float32Array(src.length);
  for (let base = 0, c = 0; base < src.length; base += plane, c = (c + 1) % channels) {
    const off = c * 256;
    for (let i = base, end = base + plane; i < end; i++) out[i] = lut[off + (src[i] as number)] as number;
  }
  return out;
}
