#!/usr/bin/env bash
# On the GPU machine: builds layerwise against PyTorch's LibTorch (as scripts/device_bench.sh), then
# trains standard, aligned and multi-head ViTs on Fashion-MNIST with the same budget, side by side on
# the one GPU, evaluates each layer by layer on the test set and computes COS / CKA matrices.
# The small result files (config, metrics, eval, similarity) go to $OUT/<objective>/.
#
#   PRESET=medium EPOCHS=30 scripts/device_train.sh      (the RESULTS.md runs)
#   EPOCHS=1 ONLY=aligned scripts/device_train.sh        (a timing run)
#
# The machine has no datasets: carry Fashion-MNIST in .deps/fashion-mnist (the four .gz files from
# /usr/share/datasets/fashion-mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out}
preset=${PRESET:-medium}
epochs=${EPOCHS:-30}
objectives=${ONLY:-standard aligned multihead}
data=${DATA_DIR:-$PWD/.deps/fashion-mnist}
extra=${EXTRA:-}
mkdir -p "$out"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DLAYERWISE_CUDA_ARCH=9.0 \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$PWD/.deps/usr" >"$out/cmake.log" 2>&1 || { tail -30 "$out/cmake.log"; exit 1; }
cmake --build build-cuda -j"$(nproc)" >"$out/build.log" 2>&1 || { grep -E "error|Error" "$out/build.log" | head -30; exit 1; }
if [ -n "${TESTS:-}" ]; then
  echo "== tests ($TESTS)"
  build-cuda/tests/layerwise_tests --gtest_filter="$TESTS" >"$out/tests.log" 2>&1 || true
  grep -E "^\[  (PASSED|FAILED|SKIPPED) |Failure" "$out/tests.log" || tail -20 "$out/tests.log"
fi
lw=build-cuda/layerwise
runs=/tmp/layerwise_runs
rm -rf "$runs"
mkdir -p "$runs"
echo "== training $objectives: $preset, $epochs epochs"
for objective in $objectives; do
  $lw train --preset "$preset" --objective "$objective" --epochs "$epochs" --device cuda \
    --data-dir "$data" $extra --out "$runs/$objective" >"$out/train_$objective.log" 2>&1 &
done
wait
for objective in $objectives; do
  tail -3 "$out/train_$objective.log"
  $lw eval "$runs/$objective" --device cuda -q
  $lw similarity "$runs/$objective" --device cuda --samples 10000 \
    --metrics cos,cka_linear,cka_debiased,cka_rbf -q
  mkdir -p "$out/$objective"
  cp "$runs/$objective"/{config.json,trainer_state.json,metrics.jsonl,eval.json,similarity.json} \
    "$runs/$objective"/*.csv "$runs/$objective"/*.svg "$out/$objective/"
  python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print(sys.argv[2], 'final', round(100*e['final_accuracy'],2), 'by layer', [round(100*a,1) for a in e['accuracy']], 'depth', e['minimal_depth'])" \
    "$runs/$objective/eval.json" "$objective"
done
