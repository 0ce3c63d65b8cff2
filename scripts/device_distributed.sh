#!/usr/bin/env bash
# On the GPU machine: the NCCL path of data-parallel training. Builds layerwise and its tests
# against PyTorch's LibTorch (scripts/device_build.sh; CMake reports "c10d NCCL" when it finds
# ProcessGroupNCCL.hpp and nccl.h), runs the Distributed* tests, then trains the same model on
# Fashion-MNIST twice on the one GPU: as a plain process (eager steps, --no-cuda-graphs) and as a
# group of one NCCL rank (--nproc 1: the data-parallel step, all-reduces included), and compares
# their loss trajectories and final weights (bench/compare_runs.py); then evaluates and compares the
# layers of the plain run both ways (similarity: the all-reduced sums; eval: the gathered
# predictions) and compares the JSON files. Output: $OUT/distributed.txt.
#
# Carry .deps and .data (Fashion-MNIST in .data/fashion-mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out}
mkdir -p "$out"
# shellcheck source=scripts/device_build.sh
source scripts/device_build.sh
device_build layerwise layerwise_tests
grep -E "c10d (Gloo|NCCL)" "$out/cmake.log" | tee "$out/distributed.txt" || echo "no c10d backend found" | tee -a "$out/distributed.txt"
build-cuda/tests/layerwise_tests --gtest_filter='Distributed*:SimilaritySums.*' 2>&1 | grep -E "^\[  |Failure|rank" | tee -a "$out/distributed.txt" || true
data=${DATA_DIR:-$PWD/.data/fashion-mnist}
runs=/tmp/layerwise_dist_runs
rm -rf "$runs"
common=(train --preset small --objective aligned --epochs 1 --batch-size 256 --train-limit 8192
  --val-limit 1024 --log-every 1 --device cuda --data-dir "$data" -q)
build-cuda/layerwise "${common[@]}" --no-cuda-graphs --out "$runs/plain" 2>&1 | tail -2
build-cuda/layerwise "${common[@]}" --nproc 1 --out "$runs/nccl1" >"$runs/nccl1.log" 2>&1
tail -2 "$runs/nccl1.log"
grep -iE "warn|error|destroy_process_group" "$runs/nccl1.log" | head -5 | tee -a "$out/distributed.txt" || true
python3 bench/compare_runs.py "$runs/plain" "$runs/nccl1" | tee -a "$out/distributed.txt"
sim=(similarity "$runs/plain" --device cuda --samples 4096 --minibatch 512 -q
  --metrics cos,cka_linear,cka_debiased,cka_minibatch,cka_rbf)
build-cuda/layerwise "${sim[@]}" --out "$runs/sim_plain"
build-cuda/layerwise "${sim[@]}" --nproc 1 --out "$runs/sim_nccl1"
build-cuda/layerwise eval "$runs/plain" --device cuda -q --out "$runs/eval_plain.json"
build-cuda/layerwise eval "$runs/plain" --device cuda -q --nproc 1 --out "$runs/eval_nccl1.json"
python3 - "$runs" <<'PY' | tee -a "$out/distributed.txt"
import json, sys
runs = sys.argv[1]
def leaves(x, path=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from leaves(v, f"{path}/{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from leaves(v, f"{path}[{i}]")
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        yield path, float(x)
for name, a, b, key in [("similarity", "sim_plain/similarity.json", "sim_nccl1/similarity.json", "metrics"),
                        ("eval", "eval_plain.json", "eval_nccl1.json", None)]:
    ja, jb = (json.load(open(f"{runs}/{f}")) for f in (a, b))
    if key:
        ja, jb = ja[key], jb[key]
    va, vb = dict(leaves(ja)), dict(leaves(jb))
    skip = ("seconds", "time")
    common = [k for k in va if k in vb and not any(s in k for s in skip)]
    worst = max(common, key=lambda k: abs(va[k] - vb[k]))
    print(f"{name}: {len(common)} numbers, largest difference {abs(va[worst] - vb[worst]):.3g} at {worst}")
PY
