/**
 * Imported first by onnx-worker.ts: when the instance's thread began to run its code (epoch ms), before it loads
 * onnxruntime-node (the start-up breakdown's `worker` mark; the Worker's 'online' event reaches the main thread only
 * when its event loop is free, which during start-up is late).
 */
export const workerStarted = performance.timeOrigin + performance.now();
