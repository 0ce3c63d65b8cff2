#!/usr/bin/env bash
# On the GPU machine: the layer-weight schedule study (train/objective.h), side by side on one GPU
# through scripts/device_train.sh: aligned ViTs under every schedule, with and without
# self-distillation, against multi-head and standard training, SEEDS seeds each; then one table
# (scripts/schedule_table.py: mean ± spread over seeds of the final accuracy, layer-wise accuracy
# and the best accuracy at >= 7.5x and >= 10x layer speed-up) in $OUT/schedules.md.
#
#   PRESET=small EPOCHS=8 SEEDS="0 1 2" scripts/device_schedules.sh
#   SEEDS=1 ...   (one seed per call; the tables of several calls: schedule_table.py on their
#                  results.tgz unpacked into one folder)
#   SCHEDULES="linear=--layer-weights linear;sqrt=--layer-weights sqrt" scripts/device_schedules.sh
#
# Carry Fashion-MNIST in .deps/fashion-mnist as device_train.sh says. Every run of a call trains at
# once on the one GPU: size EPOCHS so that the slowest fits the call's time limit.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${SEEDS:-0 1 2}
schedules=${SCHEDULES:-linear=--layer-weights linear;uniform=--layer-weights uniform;sqrt=--layer-weights sqrt;exp2=--layer-weights exponential --weight-rate 2;boost2=--last-weight-boost 2;learned=--layer-weights learned}
distill=${DISTILL:-0.5}
distilled=${DISTILLED:-linear}  # the schedules also trained with --distill (all: every one)
variants=""
IFS=';' read -ra schedule_list <<<"$schedules"
for seed in $seeds; do
  for schedule in "${schedule_list[@]}"; do
    name=${schedule%%=*}
    flags=${schedule#*=}
    variants+="$name-seed$seed=$flags --seed $seed;"
    if [ "$distill" != 0 ] && [[ $distilled == all || " $distilled " == *" $name "* ]]; then
      variants+="$name-distill-seed$seed=$flags --distill $distill --seed $seed;"
    fi
  done
done
# Baselines in the same launch (a variant naming its objective runs only it): multihead and standard
# with the default (linear) weights. Runs come out as aligned-<schedule>-seedS, multihead-seedS and
# standard-seedS, all training at once.
for seed in $seeds; do
  variants+="seed$seed=--objective multihead --seed $seed;seed$seed=--objective standard --seed $seed;"
done
ONLY=aligned VARIANTS="${variants%;}" EXIT_BATCHES= SIMILARITY= scripts/device_train.sh
out=${OUT:-out}
mkdir -p /tmp/layerwise_schedules
tar xzf "$out/results.tgz" -C /tmp/layerwise_schedules
python3 scripts/schedule_table.py /tmp/layerwise_schedules --markdown | tee "$out/schedules.md"
