"""The ImageNet ensemble as one plain Python process, the fastest single process we know of (issue 23): PIL doing
torchvision's evaluation transform (convert('RGB'), Resize(256) bilinear, CenterCrop(224)), the same uint8 table
normalisation as jpeg-input/onnx-model, ResNet-50 and DenseNet-169 in onnxruntime with one intra-op thread each and
no spinning, running at once (onnxruntime releases the GIL), softmax, mean, top-5. Closed loop at each concurrency:
`c` client threads each keep one request in flight for --seconds.

  python3 bench/python-pipeline.py [--image ../shared/imagenet/dev/n01440764_tench.JPEG] [--levels 1,8] [--seconds 20]

With --serve SOCKET it is an arm of `infergraph bench --python PYTHON` instead: it listens on a unix socket, one
thread per connection, and answers each request (u32 big-endian length, then the JPEG) with u32 length + JSON
{"top": [[index, score], ...]} or {"error": "..."}; it prints "ready" on stdout once the sessions are loaded.
"""
import argparse
import io
import json
import os
import socketserver
import struct
import sys
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


def session(path, threads=1):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def preprocess(jpeg, resize=256, crop=224):
    im = Image.open(io.BytesIO(jpeg)).convert("RGB")
    w, h = im.size
    nw, nh = (resize, int(resize * h / w)) if w <= h else (int(resize * w / h), resize)
    im = im.resize((nw, nh), Image.BILINEAR)
    left, top = int(round((nw - crop) / 2.0)), int(round((nh - crop) / 2.0))
    hwc = np.asarray(im.crop((left, top, left + crop, top + crop)), dtype=np.uint8)
    planar = hwc.transpose(2, 0, 1)
    return np.stack([LUT[c][planar[c]] for c in range(3)])[None]


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def read_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def serve(a):
    """The bench arm: every model of --model, at once, on each request's JPEG; the mean of their softmaxes."""
    sessions = [session(m, a.threads) for m in a.model]
    feeds = [(s, s.get_inputs()[0].name, s.get_outputs()[0].name) for s in sessions]
    pool = ThreadPoolExecutor(max_workers=64)

    def request(jpeg):
        x = preprocess(jpeg, a.resize, a.crop)
        others = [pool.submit(lambda f=f: f[0].run([f[2]], {f[1]: x})[0]) for f in feeds[1:]]
        first = feeds[0][0].run([feeds[0][2]], {feeds[0][1]: x})[0]
        outs = [first] + [o.result() for o in others]
        mean = sum(softmax(o.reshape(1, -1)) for o in outs) / len(outs)
        top = np.argsort(-mean[0])[: a.topk]
        return {"top": [[int(i), float(mean[0][i])] for i in top]}

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            while True:
                head = read_exact(self.request, 4)
                if head is None:
                    return
                jpeg = read_exact(self.request, struct.unpack(">I", head)[0])
                if jpeg is None:
                    return
                try:
                    answer = request(jpeg)
                except Exception as e:  # a bad request answers an error and the server keeps serving
                    answer = {"error": f"{type(e).__name__}: {e}"}
                body = json.dumps(answer).encode()
                self.request.sendall(struct.pack(">I", len(body)) + body)

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    if os.path.exists(a.serve):
        os.unlink(a.serve)
    with Server(a.serve, Handler) as srv:
        print(f"ready onnxruntime {ort.__version__} pillow {Image.__version__} numpy {np.__version__}", flush=True)
        threading.Thread(target=lambda: (sys.stdin.read(), srv.shutdown()), daemon=True).start()
        srv.serve_forever()


def main():
    ap = argparse.ArgumentParser()
    dev = os.path.join(HERE, "..", "..", "shared", "imagenet", "dev")
    first = sorted(f for f in os.listdir(dev) if f.lower().endswith((".jpg", ".jpeg")))[0] if os.path.isdir(dev) else ""
    ap.add_argument("--image", default=os.path.join(dev, first))
    ap.add_argument("--levels", default="1,8")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--serve", help="unix socket path: serve as a bench arm (see the module's doc)")
    ap.add_argument("--model", action="append", help="--serve: an ONNX model (repeat for each model)")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads per model")
    ap.add_argument("--resize", type=int, default=256)
    ap.add_argument("--crop", type=int, default=224)
    ap.add_argument("--topk", type=int, default=5)
    a = ap.parse_args()
    if a.serve:
        if not a.model:
            ap.error("--serve needs --model (one per model)")
        return serve(a)
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
