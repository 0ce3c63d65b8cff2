#!/usr/bin/env bash
# On the GPU machine: builds layerwise against PyTorch's LibTorch (as scripts/device_bench.sh), then
# trains standard, aligned and multi-head ViTs on Fashion-MNIST with the same budget, side by side on
# the one GPU, evaluates each layer by layer on the test set, computes COS / CKA matrices and
# measures early exit (confidence policy, calibrated on validation, timed at batch 1, 32 and 256).
# The small result files (config, metrics, eval, similarity, exit) go to $OUT/results.tgz, one folder per
# run.
#
# Runs are VARIANTS x objectives; a variant is "name=flags" (flags added to EXTRA), variants are
# separated by ';'. Runs go round-robin over the GPUs of the machine, all at once.
#
#   PRESET=medium EPOCHS=15 VARIANTS="none=--augment none;flip=--augment flip" scripts/device_train.sh
#                                                  (6 runs at once)
#   EPOCHS=1 ONLY=aligned scripts/device_train.sh  (a timing run)
#   EXIT_BATCHES= ...                              (exit curves without wall-clock timing)
#   SIMILARITY= ...                                (no COS / CKA matrices)
#   VARIANTS="seed0=--objective multihead --seed 0" (a variant naming its objective runs only it)
#
# The machine has no datasets: carry Fashion-MNIST in .deps/fashion-mnist (the four .gz files from
# /usr/share/datasets/fashion-mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out}
preset=${PRESET:-medium}
epochs=${EPOCHS:-30}
objectives=${ONLY:-standard aligned multihead}
variants=${VARIANTS:-flip=--augment flip}
exit_batches=${EXIT_BATCHES-1,32,256}
data=${DATA_DIR:-$PWD/.deps/fashion-mnist}
extra=${EXTRA:-}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
# shellcheck source=scripts/device_build.sh
source scripts/device_build.sh
if [ -n "${TESTS:-}" ]; then device_build layerwise layerwise_tests; else device_build layerwise; fi
if [ -n "${TESTS:-}" ]; then
  echo "== tests ($TESTS)"
  build-cuda/tests/layerwise_tests --gtest_filter="$TESTS" >"$out/tests.log" 2>&1 || true
  grep -E "^\[  (PASSED|FAILED|SKIPPED) |Failure" "$out/tests.log" || tail -20 "$out/tests.log"
fi
lw=build-cuda/layerwise
runs=/tmp/layerwise_runs
rm -rf "$runs"
mkdir -p "$runs"
echo "== training $objectives, variants '$variants': $preset, $epochs epochs"
names=""
gpus=$(nvidia-smi -L | wc -l)
i=0
IFS=';' read -ra variant_list <<<"$variants"
for variant in "${variant_list[@]}"; do
  variant_name=${variant%%=*}
  variant_flags=${variant#*=}
  variant_objectives=$objectives
  if [[ " $variant_flags " =~ \ --objective\ ([a-z]+)\  ]]; then
    variant_objectives=${BASH_REMATCH[1]}
    variant_flags=${variant_flags/--objective $variant_objectives/}
  fi
  for objective in $variant_objectives; do
    name="$objective-$variant_name"
    names="$names $name"
    device="cuda:$((i % gpus))"
    i=$((i + 1))
    # shellcheck disable=SC2086  # flags are word lists
    timeout "${TRAIN_TIMEOUT:-3000}" $lw train --preset "$preset" --objective "$objective" --epochs "$epochs" \
      --device "$device" --data-dir "$data" $extra $variant_flags --out "$runs/$name" \
      >"$out/train_$name.log" 2>&1 &
  done
done
wait
for name in $names; do
  tail -3 "$out/train_$name.log"
  $lw eval "$runs/$name" --device cuda -q
  if [ -n "${SIMILARITY-yes}" ]; then
    $lw similarity "$runs/$name" --device cuda --samples 5000 \
      --metrics cos,cka_linear,cka_debiased -q
  fi
  $lw exit "$runs/$name" --device cuda --policy confidence ${exit_batches:+--time-batches "$exit_batches"} \
    --time-samples "${EXIT_SAMPLES:-2048}" -q
  mkdir -p "$runs/results/$name"
  cp "$runs/$name"/{config.json,trainer_state.json,metrics.jsonl,eval.json,exit.json} \
    "$runs/results/$name/"
  cp "$runs/$name"/{similarity.json,*.csv,*.svg} "$runs/results/$name/" 2>/dev/null || true
  python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print(sys.argv[2], 'final', round(100*e['final_accuracy'],2), 'by layer', [round(100*a,1) for a in e['accuracy']], 'depth', e['minimal_depth'])" \
    "$runs/$name/eval.json" "$name"
done
tar czf "$out/results.tgz" -C "$runs/results" .
