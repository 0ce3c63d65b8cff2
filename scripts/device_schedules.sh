#!/usr/bin/env bash
# On the GPU machine: the layer-weight schedule study (train/objective.h), side by side on one GPU
# through scripts/device_train.sh: aligned ViTs under every schedule, with and without
# self-distillation, against multi-head and standard training, SEEDS seeds each; then one table
# (scripts/schedule_table.py: mean ± spread over seeds of the final accuracy, layer-wise accuracy
# and the best accuracy at >= 7.5x and >= 10x layer speed-up) in $OUT/schedules.md.
#
#   PRESET=small EPOCHS=8 SEEDS="0 1 2" scripts/device_schedules.sh
#   SCHEDULES="linear=--layer-weights linear;sqrt=--layer-weights sqrt" scripts/device_schedules.sh
#
# Carry Fashion-MNIST in .deps/fashion-mnist as device_train.sh says. Every run of a call trains at
# once on the one GPU: size EPOCHS so that the slowest fits the call's time limit.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${SEEDS:-0 1 2}
schedules=${SCHEDULES:-linear=--layer-weights linear;uniform=--layer-weights uniform;sqrt=--layer-weights sqrt;exp2=--layer-weights exponential --weight-rate 2;boost2=--last-weight-boost 2}
distill=${DISTILL:-0.5}
variants=""
IFS=';' read -ra schedule_list <<<"$schedules"
for seed in $seeds; do
  for schedule in "${schedule_list[@]}"; do
    name=${schedule%%=*}
    flags=${schedule#*=}
    variants+="$name-seed$seed=$flags --seed $seed;"
    [ "$distill" != 0 ] && variants+="$name-distill-seed$seed=$flags --distill $distill --seed $seed;"
  done
done
# Baselines: device_train.sh names runs OBJECTIVE-VARIANT, so aligned runs come out as
# aligned-<schedule>-seedS; multihead and standard train with the default (linear) weights.
ONLY=aligned VARIANTS="${variants%;}" EXIT_BATCHES= scripts/device_train.sh
baselines=""
for seed in $seeds; do baselines+="seed$seed=--seed $seed;"; done
OUT_MAIN=${OUT:-out}
mkdir -p "$OUT_MAIN/baselines"
OUT="$OUT_MAIN/baselines" ONLY="multihead standard" VARIANTS="${baselines%;}" EXIT_BATCHES= \
  scripts/device_train.sh
mkdir -p /tmp/layerwise_schedules
tar xzf "$OUT_MAIN/results.tgz" -C /tmp/layerwise_schedules
tar xzf "$OUT_MAIN/baselines/results.tgz" -C /tmp/layerwise_schedules
python3 scripts/schedule_table.py /tmp/layerwise_schedules --markdown | tee "$OUT_MAIN/schedules.md"
