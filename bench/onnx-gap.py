"""Python's onnxruntime arm of bench/onnx-gap.ts: the same models with the same session options, run one at a time
when the Node script asks, so that both take turns on the same machine. Reads commands on stdin, one per line:
  load NAME PATH INTRA INTER OPT SPIN   -> "ok"
  run NAME                              -> wall and CPU milliseconds of one session.run
"""
import sys
import time

import numpy as np
import onnxruntime as ort

LEVEL = {
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def pattern(n):
    # The same input values as the Node arms (onnx-gap.ts inputPattern).
    i = np.arange(n, dtype=np.int64)
    return (((i * 7919) % 255).astype(np.float32) / np.float32(255) - np.float32(0.5)).astype(np.float32)


sessions = {}
for line in sys.stdin:
    cmd = line.split()
    if not cmd:
        continue
    if cmd[0] == "load":
        name, path, intra, inter, opt, spin = cmd[1:7]
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(intra)
        so.inter_op_num_threads = int(inter)
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = LEVEL[opt]
        so.add_session_config_entry("session.intra_op.allow_spinning", spin)
        so.add_session_config_entry("session.inter_op.allow_spinning", spin)
        so.log_severity_level = 3
        s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        inp = s.get_inputs()[0]
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        x = pattern(int(np.prod(shape))).reshape(shape)
        sessions[name] = (s, {inp.name: x}, [s.get_outputs()[0].name])
        print("ok", ort.__version__, flush=True)
    elif cmd[0] == "run":
        s, feeds, outs = sessions[cmd[1]]
        t0 = time.perf_counter()
        c0 = time.process_time()
        s.run(outs, feeds)
        c1 = time.process_time()
        print((time.perf_counter() - t0) * 1e3, (c1 - c0) * 1e3, flush=True)
