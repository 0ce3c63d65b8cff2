#!/usr/bin/env python3
"""Two runs of the same training, side by side: the largest loss difference over the logged steps
and the largest weight difference of model.safetensors (read with numpy alone, no layerwise code).

    python3 bench/compare_runs.py RUN_A RUN_B
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64,
          "I32": np.int32, "U8": np.uint8}


def read_safetensors(path):
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], DTYPES[info["dtype"]]).reshape(info["shape"])
    return tensors


def losses(run):
    with open(f"{run}/metrics.jsonl") as f:
        return [json.loads(line)["loss"] for line in f if '"loss"' in line]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = sys.argv[1:]
    la, lb = losses(a), losses(b)
    if len(la) != len(lb):
        sys.exit(f"{a} logged {len(la)} steps, {b} {len(lb)}")
    wa, wb = read_safetensors(f"{a}/model.safetensors"), read_safetensors(f"{b}/model.safetensors")
    if wa.keys() != wb.keys():
        sys.exit("the runs hold different tensors")
    loss_diff = max(abs(x - y) for x, y in zip(la, lb))
    weight_diff = max(float(np.max(np.abs(wa[k].astype(np.float64) - wb[k].astype(np.float64))))
                      for k in wa)
    print(f"{len(la)} steps; final loss {la[-1]:.6f} vs {lb[-1]:.6f}; largest loss difference "
          f"{loss_diff:.3g}; largest weight difference {weight_diff:.3g}")


if __name__ == "__main__":
    main()
