#!/usr/bin/env bash
# On the GPU machine (PyTorch 2.x with CUDA, no package registry), in one call: builds layerwise
# against PyTorch's LibTorch (targets layerwise and bench_train, see scripts/device_build.sh), then
# times the training step of the same ViT in layerwise (bench/bench_train: the trainer's step as
# layerwise train runs it, then the same with eager steps, --no-cuda-graphs, timed phase by phase
# too) and in PyTorch Python (bench/train_reference.py: eager, also phase by phase, then
# torch.compile), one configuration after the other: the base preset (28 x 28 x 1, patch 4, 50
# tokens) and the ViT-B/16 shape (224 x 224 x 3, patch 16, 197 tokens), objectives standard and
# aligned, batch 256, bf16 autocast. JSON lines go to
# $OUT/bench_train.jsonl, the side-by-side table (Markdown) to $OUT/bench_train_table.md and last
# on stdout.
#
#   scripts/device_bench_train.sh
#   MODELS=vit-b16 OBJECTIVES=aligned BATCH=512 STEPS=50 scripts/device_bench_train.sh
#   MAX_AUTOTUNE=1 scripts/device_bench_train.sh    (adds mode="max-autotune-no-cudagraphs", whose
#                                                    GEMM autotuning lengthens compilation)
#
# Carry .deps (the unpacked header packages; see scripts/device_bench.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out}
mkdir -p "$out"
models=${MODELS:-base vit-b16}
objectives=${OBJECTIVES:-standard aligned}
batch=${BATCH:-256}
steps=(--warmup "${WARMUP:-10}" --steps "${STEPS:-30}" --repeats "${REPEATS:-3}")
compile_timeout=${COMPILE_TIMEOUT:-240}
breakdown=(--breakdown "${BREAKDOWN:-5}")
jsonl="$out/bench_train.jsonl"
: >"$jsonl"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader |
  tee "$out/gpu.txt"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' |
  tee -a "$out/gpu.txt"

# shellcheck source=scripts/device_build.sh
source scripts/device_build.sh
start=$(date +%s)
device_build layerwise bench_train
echo "== built in $(($(date +%s) - start)) s"

reference() {  # MODE MODEL OBJECTIVE [TIMEOUT [FLAGS...]]
  local mode=$1 model=$2 objective=$3 limit=${4:-$compile_timeout}
  shift 4 || shift $#
  timeout "$limit" python3 bench/train_reference.py --preset "$model" --objective "$objective" \
    --batch "$batch" --device cuda --mode "$mode" "${steps[@]}" "$@" --json "$jsonl" >/dev/null ||
    echo "!! train_reference.py --mode $mode --preset $model --objective $objective failed or timed out"
}

for model in $models; do
  for objective in $objectives; do
    echo "== $model $objective batch $batch bf16 ($(($(date +%s) - start)) s)"
    for flags in "" "--no-cuda-graphs ${breakdown[*]}"; do
      # shellcheck disable=SC2086  # flags is a word list
      build-cuda/bench/bench_train --preset "$model" --objective "$objective" --batch "$batch" \
        --device cuda "${steps[@]}" $flags --json "$jsonl" >/dev/null ||
        echo "!! bench_train --preset $model --objective $objective $flags failed"
    done
    reference eager "$model" "$objective" "$compile_timeout" "${breakdown[@]}"
    reference compile "$model" "$objective"
    if [ -n "${MAX_AUTOTUNE:-}" ]; then reference max-autotune "$model" "$objective" 900; fi
  done
done
echo "== done in $(($(date +%s) - start)) s; $(wc -l <"$jsonl") JSON lines in $jsonl"
python3 bench/train_reference.py --summarize "$jsonl" | tee "$out/bench_train_table.md"
