#!/usr/bin/env bash
# On the GPU machine: real models on real inputs (issue 19), in one call.
#   1. tokenizers: the GPU build carries ICU (scripts/prepare_deps.sh); the tokenizer tests and the
#      BERT / GPT-2 import test run there;
#   2. a ViT-B/16 saved by transformers (random, scripts/vit_b16_check.py) is imported and read on
#      Fashion-MNIST resized on the fly to 224 x 224 x 3: eval, similarity, exit, and a fine-tune
#      with a fresh classifier; its hidden states against transformers' (CPU, float32);
#   3. bench_loader: JPEG decode + resize per core, and eval fed by the loader against eval fed a
#      tensor already on the GPU (bf16, batch 256);
#   4. export --depth of an aligned run, loaded by transformers (scripts/hf_roundtrip.py).
# Carry [".deps", ".data/fmnist-small"] (scripts/prepare_deps.sh, scripts/small_fashion_mnist.py:
# Fashion-MNIST whole would not fit beside ICU in the 64 MiB that travel). Results in $OUT.
# STEPS="3" runs some of the steps (default all; 3 imports the ViT-B/16 itself when 2 did not run).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out}
data=${DATA_DIR:-$PWD/.data/fmnist-small}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
# shellcheck source=scripts/device_build.sh
source scripts/device_build.sh
steps=" ${STEPS:-1 2 3 4} "
want() { [[ $steps == *" $1 "* ]]; }
if want 1; then device_build layerwise layerwise_tests bench_loader; else device_build layerwise bench_loader; fi
lw=build-cuda/layerwise
work=/tmp/layerwise_images
rm -rf "$work"
mkdir -p "$work"
log="$out/images.log"
common="--dataset idx --data-dir $data"
import_vit_b16() {
  python3 scripts/vit_b16_check.py make "$work/vitb"
  time $lw -q import "$work/vitb" $common --out "$work/vitb-run"
}
{
  set +e  # every step runs and reports, whatever an earlier one did
  if want 1; then
    echo "== 1. tokenizers and text imports with ICU"
    build-cuda/tests/layerwise_tests --gtest_brief=1 \
      --gtest_filter='HfTokenizer*:Tokenizer*:HfCommands.TextImportsReadDataWithTheCheckpointTokenizer' 2>&1 | tail -4
  fi

  if want 2; then
    echo "== 2. ViT-B/16 saved by transformers, Fashion-MNIST resized on the fly"
    import_vit_b16
    python3 -c "import json; print('data:', json.load(open('$work/vitb-run/config.json'))['data'])"
    time $lw eval "$work/vitb-run" --device cuda --bf16 --batch-size 256 2>&1 | tail -3
    time $lw -q similarity "$work/vitb-run" --device cuda --samples 4096 --metrics cos,cka_linear
    time $lw -q exit "$work/vitb-run" --device cuda --bf16 --time-batches 256 --time-samples 1024 2>&1 | tail -3
    time $lw -q train --init "$work/vitb" --fresh-head $common --objective aligned --epochs 1 \
      --batch-size 128 --device cuda --out "$work/vitb-ft"
    tail -1 "$work/vitb-ft/metrics.jsonl"
    $lw -q similarity "$work/vitb-run" --device cpu --samples 32 --embeddings --save-activations \
      --metrics cos --out "$work/vitb-acts"
    python3 scripts/vit_b16_check.py compare "$work/vitb" "$work/vitb-acts/activations.safetensors" \
      "$data" "$out/vit_b16_hidden_states.json" || echo "HIDDEN STATES DIFFER"
  fi

  if want 3; then
    echo "== 3. loader"
    [ -d "$work/vitb-run" ] || import_vit_b16
    build-cuda/bench/bench_loader --photos 512 --run "$work/vitb-run" --device cuda --bf16 \
      --samples 10000 --batch-size 256
  fi

  if want 4; then
    echo "== 4. export --depth"
    $lw -q train --preset tiny $common --objective aligned --epochs 2 --device cuda --out "$work/aligned"
    $lw -q eval "$work/aligned" --device cuda
    for depth in 1 2; do  # the tiny preset has 2 layers
      $lw -q export "$work/aligned" --depth "$depth" --out "$work/hf-depth$depth"
    done
    python3 scripts/hf_roundtrip.py "$out/roundtrip_depth.json" "$work/hf-depth1" "$work/hf-depth2" \
      || echo "ROUND TRIP FAILED"
  fi
} 2>&1 | tee "$log"
cp "$work/vitb-run/eval.json" "$out/vitb_eval.json" 2>/dev/null || true
