#!/usr/bin/env bash
# The language results of docs/RESULTS.md, on CPU: a text encoder classifying SpamAssassin ham vs
# spam (headers stripped) with the standard, aligned and multi-head objectives, and a text decoder
# on the same messages as a language model, standard vs aligned. Every run is then evaluated layer
# by layer on its test split and its COS / CKA matrices are computed.
#
#   scripts/text_results.sh [OUT]      (default OUT=text_runs; 40 to 60 min on 2 cores)
#
# Needs the corpus (scripts/setup.sh or scripts/fetch_spam_assassin.sh) and a built layerwise.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-text_runs}
lw=${LW:-build/layerwise}
mkdir -p "$out"
encoder="--preset encoder-small --layers 4 --d-model 64 --heads 4 --d-ff 256 --max-len 128
  --vocab-size 4096 --epochs ${ENCODER_EPOCHS:-6} --batch-size 32 --lr 1e-3"
decoder="--preset decoder-small --layers 4 --d-model 128 --heads 4 --d-ff 512 --max-len 128
  --vocab-size 2048 --train-limit 8000 --val-limit 500 --epochs ${DECODER_EPOCHS:-2}
  --batch-size 32 --lr 1e-3"
for objective in standard aligned multihead; do
  [ -f "$out/encoder-$objective/trainer_state.json" ] ||
    $lw train $encoder --objective "$objective" --out "$out/encoder-$objective" -q
done
for objective in standard aligned; do
  [ -f "$out/decoder-$objective/trainer_state.json" ] ||
    $lw train $decoder --objective "$objective" --out "$out/decoder-$objective" -q
done
for run in "$out"/encoder-* "$out"/decoder-*; do
  $lw eval "$run" -q
  $lw similarity "$run" --samples 1000 --metrics cos,cka_linear,cka_debiased -q
done
python3 - "$out" <<'PY'
import json, pathlib, sys
for run in sorted(pathlib.Path(sys.argv[1]).iterdir()):
    e = json.loads((run / "eval.json").read_text())
    s = json.loads((run / "similarity.json").read_text())
    key = "perplexity" if "perplexity" in e else "accuracy"
    values = [round(v if key == "perplexity" else 100 * v, 2) for v in e[key]]
    print(f"{run.name:20s} {key} by layer {values}  corr(COS, CKA) "
          f"{s['correlation_with_cos']['cka_linear']:.3f}")
PY
