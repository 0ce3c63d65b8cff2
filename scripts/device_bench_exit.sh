#!/usr/bin/env bash
# On the GPU machine: wall-clock speed-up of early exit with and without CUDA graphs. Trains two
# aligned ViTs on Fashion-MNIST once (d = 768: --preset base, 4 epochs; d = 192: --preset medium
# --d-model 192 --heads 3, 10 epochs; kept in $RUNS between calls on a warm machine), then times
# bench/bench_exit on each, float32 and bf16, graphs on and off (--no-cuda-graphs), at batch 32 and
# 256 (4,096 test images) and batch 1 (256 images). Needs build-cuda/layerwise and bench_exit
# (scripts/device_build.sh) and Fashion-MNIST in .deps/fashion-mnist. Output: $OUT/bench_exit.txt,
# every exit.json in $OUT/bench_exit.tgz.
#
#   MODELS="d768 d192" PRECISIONS="fp32 bf16" BATCHES="32,256 1" scripts/device_bench_exit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out}
runs=${RUNS:-/tmp/layerwise_exit_runs}
data=${DATA_DIR:-$PWD/.deps/fashion-mnist}
mkdir -p "$out" "$runs/json"
lw=build-cuda/layerwise
train() {  # NAME FLAGS...
  local name=$1
  shift
  [ -f "$runs/$name/eval.json" ] && return 0
  rm -rf "${runs:?}/$name"
  $lw train --objective aligned --device cuda --data-dir "$data" --out "$runs/$name" "$@" -q \
    >"$runs/train_$name.log" 2>&1 && $lw eval "$runs/$name" --device cuda -q >>"$runs/train_$name.log" 2>&1
  python3 -c 'import json, sys; e = json.load(open(sys.argv[1])); print(sys.argv[2], "test accuracy", round(100 * e["final_accuracy"], 2))' \
    "$runs/$name/eval.json" "$name" | tee -a "$out/bench_exit.txt"
}
start=$(date +%s)
train d768 --preset base --epochs 4 &
train d192 --preset medium --d-model 192 --heads 3 --epochs 10 &
wait
echo "== trained in $(($(date +%s) - start)) s" | tee -a "$out/bench_exit.txt"
for model in ${MODELS:-d768 d192}; do
  for precision in ${PRECISIONS:-fp32 bf16}; do
    for batches in ${BATCHES:-32,256 1}; do
      samples=4096
      [ "$batches" = 1 ] && samples=256
      for graphs in on off; do
        flags=()
        [ "$precision" = bf16 ] && flags+=(--bf16)
        [ "$graphs" = off ] && flags+=(--no-cuda-graphs)
        tag="$model-$precision-b${batches//,/_}-graphs_$graphs"
        echo "== $tag ($(($(date +%s) - start)) s)" | tee -a "$out/bench_exit.txt"
        build-cuda/bench/bench_exit "$runs/$model" --device cuda --batches "$batches" \
          --schedules batch,stream --samples "$samples" "${flags[@]}" --json "$runs/json/$tag.json" \
          2>&1 | tee -a "$out/bench_exit.txt" || echo "!! $tag failed" | tee -a "$out/bench_exit.txt"
      done
    done
  done
done
tar czf "$out/bench_exit.tgz" -C "$runs/json" .
