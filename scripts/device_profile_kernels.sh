#!/usr/bin/env bash
# On the GPU machine: GPU time of every kernel of two training steps of the same ViT, in layerwise
# (bench/bench_train, eager steps) and in PyTorch eager (bench/train_reference.py), measured by
# Nsight Compute (one metric, gpu__time_duration.sum, clocks left alone), then compared kernel by
# kernel (bench/kernel_table.py): where a slower step loses its time. Needs build-cuda/bench/bench_train
# (scripts/device_build.sh). Files: $OUT/kernels_{layerwise,pytorch}.csv, $OUT/kernels.md.
#
#   MODEL=vit-b16 OBJECTIVE=aligned BATCH=256 scripts/device_profile_kernels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out}
mkdir -p "$out"
model=${MODEL:-vit-b16}
objective=${OBJECTIVE:-aligned}
batch=${BATCH:-256}
ncu_flags=(--clock-control none --csv --print-units base --print-kernel-base function
  --metrics gpu__time_duration.sum)
steps=(--warmup 1 --steps 1 --repeats 1)  # two steps: the first, then one timed
ncu "${ncu_flags[@]}" build-cuda/bench/bench_train --preset "$model" --objective "$objective" \
  --batch "$batch" --device cuda --no-cuda-graphs "${steps[@]}" >"$out/kernels_layerwise.csv"
ncu "${ncu_flags[@]}" python3 bench/train_reference.py --preset "$model" --objective "$objective" \
  --batch "$batch" --device cuda --mode eager "${steps[@]}" >"$out/kernels_pytorch.csv"
python3 bench/kernel_table.py "$out/kernels_layerwise.csv" "$out/kernels_pytorch.csv" --steps 2 \
  --names layerwise,PyTorch | tee "$out/kernels.md"
