#!/usr/bin/env bash
# On the GPU machine (PyTorch 2.x with CUDA, no package registry): builds layerwise against PyTorch's
# LibTorch, runs the test suite (CUDA tests included), then the similarity benchmark side by side with
# the PyTorch Python version. Results go to $OUT (default: out/).
#
# Header-only and test dependencies travel as Debian packages unpacked into .deps: run
# scripts/prepare_deps.sh once on a Debian 12 machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out}
mkdir -p "$out"
sizes=${SIZES:-1000,10000,50000}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"

# shellcheck source=scripts/device_build.sh
source scripts/device_build.sh
device_build  # every target: the program, the tests, the benchmarks
echo "== tests"
build-cuda/tests/layerwise_tests >"$out/tests.log" 2>&1 || true
grep -E "^\[  (PASSED|FAILED|SKIPPED) |Failure|CudaMatchesCpu" "$out/tests.log" || tail -20 "$out/tests.log"

echo "== python reference self-test on cuda"
python3 bench/similarity_reference.py --selftest --device cuda 2>&1 | tail -3

echo "== engine, float32"
build-cuda/bench/bench_similarity --device cuda --n "$sizes" --baseline-max-n 10000 --no-tf32 \
  --json "$out/bench.jsonl" | tee "$out/bench_fp32.txt"
echo "== engine, tf32"
build-cuda/bench/bench_similarity --device cuda --n "$sizes" --baseline-max-n 0 --tf32 \
  --json "$out/bench.jsonl" | tee "$out/bench_tf32.txt"
echo "== pytorch python, float32 and tf32"
python3 bench/similarity_reference.py --device cuda --n "$sizes" --layers 13 --width 768 \
  --repeats 3 | tee -a "$out/bench.jsonl" | python3 bench/summarize.py --impl pytorch
python3 bench/similarity_reference.py --device cuda --n "$sizes" --layers 13 --width 768 \
  --repeats 3 --tf32 | tee -a "$out/bench.jsonl" | python3 bench/summarize.py --impl pytorch

echo "== the CLI end to end on cuda"
build-cuda/layerwise example --samples 20000 --tokens 4 --width 256 --layers 12 --out /tmp/acts.safetensors
build-cuda/layerwise compare /tmp/acts.safetensors --metrics all --pool mean --device cuda --out "$out/compare_cuda"
