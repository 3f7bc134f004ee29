"""The ImageNet ensemble as one plain Python process, the fastest single process we know of (issue 23): PIL doing
torchvision's evaluation transform (convert('RGB'), Resize(256) bilinear, CenterCrop(224)), the same uint8 table
normalisation as jpeg-input/onnx-model, ResNet-50 and DenseNet-169 in onnxruntime with one intra-op thread each and
no spinning, running at once (onnxruntime releases the GIL), softmax, mean, top-5. Closed loop at each concurrency:
`c` client threads each keep one request in flight for --seconds.

  python3 bench/python-pipeline.py [--image ../shared/imagenet/dev/n01440764_tench.JPEG] [--levels 1,8] [--seconds 20]
"""
import argparse
import io
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime as ort
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
# (v / 255 - mean) / std in doubles, rounded once to float32: normalisationTable() in uint8-normalise.ts.
LUT = ((np.arange(256)[None, :] / 255 - MEAN[:, None]) / STD[:, None]).astype(np.float32)


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def preprocess(jpeg):
    im = Image.open(io.BytesIO(jpeg)).convert("RGB")
    w, h = im.size
    nw, nh = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    im = im.resize((nw, nh), Image.BILINEAR)
    left, top = int(round((nw - 224) / 2.0)), int(round((nh - 224) / 2.0))
    hwc = np.asarray(im.crop((left, top, left + 224, top + 224)), dtype=np.uint8)
    planar = hwc.transpose(2, 0, 1)
    return np.stack([LUT[c][planar[c]] for c in range(3)])[None]


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def main():
    ap = argparse.ArgumentParser()
    dev = os.path.join(HERE, "..", "..", "shared", "imagenet", "dev")
    first = sorted(f for f in os.listdir(dev) if f.lower().endswith((".jpg", ".jpeg")))[0] if os.path.isdir(dev) else ""
    ap.add_argument("--image", default=os.path.join(dev, first))
    ap.add_argument("--levels", default="1,8")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=3)
    a = ap.parse_args()
    jpeg = open(a.image, "rb").read()
    models = os.path.join(HERE, "..", "models", "generated")
    sessions = [session(os.path.join(models, m)) for m in ("resnet50.onnx", "densenet169.onnx")]
    feeds = [(s, s.get_inputs()[0].name, s.get_outputs()[0].name) for s in sessions]
    pool = ThreadPoolExecutor(max_workers=64)

    def request():
        x = preprocess(jpeg)
        other = pool.submit(lambda: feeds[1][0].run([feeds[1][2]], {feeds[1][1]: x})[0])
        a_out = feeds[0][0].run([feeds[0][2]], {feeds[0][1]: x})[0]
        mean = (softmax(a_out) + softmax(other.result())) / 2
        return np.argsort(-mean[0])[:5]

    def level(c, seconds):
        end = time.perf_counter() + seconds
        lat = []
        lock = threading.Lock()

        def client():
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                request()
                with lock:
                    lat.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(c)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return len(lat) / (time.perf_counter() - t0), 1000 * sum(lat) / max(1, len(lat))

    print(f"python pipeline: onnxruntime {ort.__version__}, {os.path.relpath(a.image)}; top-5 {[int(i) for i in request()]}")
    level(1, a.warmup)
    for c in (int(x) for x in a.levels.split(",")):
        rps, mean = level(c, a.seconds)
        print(f"  c={c}: {rps:.2f} req/s, mean {mean:.1f} ms")


if __name__ == "__main__":
    main()
