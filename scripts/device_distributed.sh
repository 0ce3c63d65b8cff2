#!/usr/bin/env bash
# On the GPU machine: the NCCL path of data-parallel training. Builds layerwise and its tests
# against PyTorch's LibTorch (scripts/device_build.sh; CMake reports "c10d NCCL" when it finds
# ProcessGroupNCCL.hpp and nccl.h), runs the Distributed* tests, then trains the same model on
# Fashion-MNIST twice on the one GPU: as a plain process (eager steps, --no-cuda-graphs) and as a
# group of one NCCL rank (--nproc 1: the data-parallel step, all-reduces included), and compares
# their loss trajectories and final weights (bench/compare_runs.py). Output: $OUT/distributed.txt.
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
build-cuda/tests/layerwise_tests --gtest_filter='Distributed*' 2>&1 | grep -E "^\[  |Failure|rank" | tee -a "$out/distributed.txt" || true
data=${DATA_DIR:-$PWD/.data/fashion-mnist}
runs=/tmp/layerwise_dist_runs
rm -rf "$runs"
common=(train --preset small --objective aligned --epochs 1 --batch-size 256 --train-limit 8192
  --val-limit 1024 --log-every 1 --device cuda --data-dir "$data" -q)
build-cuda/layerwise "${common[@]}" --no-cuda-graphs --out "$runs/plain" 2>&1 | tail -2
build-cuda/layerwise "${common[@]}" --nproc 1 --out "$runs/nccl1" 2>&1 | tail -2
python3 bench/compare_runs.py "$runs/plain" "$runs/nccl1" | tee -a "$out/distributed.txt"
