#!/usr/bin/env bash
# On the GPU machine: the transfer experiment of docs/RESULTS.md (pretrain, export, import,
# fine-tune aligned vs standard), and the transformers round trip of exported checkpoints.
#
#   1. pretrain a ViT with the standard objective on Fashion-MNIST classes 0-4 (tops, trousers,
#      dresses, coats),
#   2. export it to the Hugging Face layout, check that transformers loads it and computes the same
#      logits (scripts/hf_roundtrip.py, with any further exported folders given in ROUNDTRIP),
#   3. import the export back as a run and evaluate it on its own task (the same accuracy),
#   4. fine-tune it on classes 5-9 (sandals, shirts, sneakers, bags, boots) with a fresh
#      classifier, standard and aligned, and train both from scratch with the same budget,
#   5. evaluate every run layer by layer and compute COS / CKA matrices.
# Result files (runs' configs, metrics, eval, similarity; logs; roundtrip.json) go to
# $OUT/transfer.tgz.
#
#   PRE_EPOCHS=30 FT_EPOCHS=15 scripts/device_transfer.sh
#
# ARCH sets the architecture (pretraining and scratch runs; fine-tunes take the checkpoint's), RECIPE
# the training flags of every run.
# Builds with scripts/device_build.sh (carry .deps/usr and .deps/fashion-mnist).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out}
data=${DATA_DIR:-$PWD/.deps/fashion-mnist}
extra=${EXTRA:-}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
# shellcheck source=scripts/device_build.sh
source scripts/device_build.sh
device_build layerwise
lw="build-cuda/layerwise"
runs=/tmp/layerwise_transfer
rm -rf "$runs"
mkdir -p "$runs/results/logs"
logs="$runs/results/logs"  # in the tarball: the device tool brings back few files
arch=${ARCH:---preset medium --d-model 192 --heads 3 --d-ff 768}
recipe=${RECIPE:---batch-size 512 --lr 1e-3 --warmup-epochs 2 --dropout 0.1 --label-smoothing 0.1 --augment flip}
common="--device cuda --data-dir $data $recipe $extra"
echo "== pretraining (standard, classes 0-4)"
# shellcheck disable=SC2086
$lw train $common $arch --classes 0-4 --objective standard --epochs "${PRE_EPOCHS:-30}" --out "$runs/pretrain" >"$logs/train_pretrain.log" 2>&1
tail -2 "$logs/train_pretrain.log"
$lw export "$runs/pretrain" --out "$runs/hf-pretrain"
echo "== transformers round trip"
# shellcheck disable=SC2086
python3 scripts/hf_roundtrip.py "$runs/results/roundtrip.json" "$runs/hf-pretrain" ${ROUNDTRIP:-} || echo "ROUND TRIP FAILED"
$lw import "$runs/hf-pretrain" --classes 0-4 --data-dir "$data" --out "$runs/imported"
$lw eval "$runs/pretrain" --device cuda -q
$lw eval "$runs/imported" --device cuda -q
echo "== fine-tuning on classes 5-9 (fresh classifier) and training from scratch"
ft_epochs=${FT_EPOCHS:-15}
for objective in standard aligned; do
  # shellcheck disable=SC2086
  $lw train $common --classes 5-9 --objective "$objective" --epochs "$ft_epochs" \
    --init "$runs/imported" --fresh-head --out "$runs/finetune-$objective" \
    >"$logs/train_finetune-$objective.log" 2>&1 &
  # shellcheck disable=SC2086
  $lw train $common $arch --classes 5-9 --objective "$objective" --epochs "$ft_epochs" \
    --out "$runs/scratch-$objective" >"$logs/train_scratch-$objective.log" 2>&1 &
done
wait
for name in pretrain imported finetune-standard finetune-aligned scratch-standard scratch-aligned; do
  [ -f "$runs/$name/eval.json" ] || $lw eval "$runs/$name" --device cuda -q
  $lw similarity "$runs/$name" --device cuda --samples 5000 --metrics cos,cka_linear -q
  mkdir -p "$runs/results/$name"
  cp "$runs/$name"/{config.json,trainer_state.json,eval.json,similarity.json} "$runs/$name"/*.csv \
    "$runs/results/$name/"
  [ -f "$runs/$name/metrics.jsonl" ] && cp "$runs/$name/metrics.jsonl" "$runs/results/$name/"
  [ -f "$runs/$name/import.json" ] && cp "$runs/$name/import.json" "$runs/results/$name/"
  python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print(sys.argv[2], 'final', round(100*e['final_accuracy'],2), 'by layer', [round(100*a,1) for a in e['accuracy']], 'depth', e['minimal_depth'])" \
    "$runs/$name/eval.json" "$name"
done
cp "$out/gpu.txt" "$runs/results/"
cp "$runs/hf-pretrain/config.json" "$runs/results/hf-pretrain-config.json"
tar czf "$out/transfer.tgz" -C "$runs/results" .
