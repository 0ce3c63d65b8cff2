#!/usr/bin/env bash
# The main job on built-in data: set up (packages + build), then `layerwise demo`: train a standard and
# an aligned ViT on Fashion-MNIST (about 8 minutes on 2 cores), read both layer by layer on the test
# set, compute COS and CKA matrices, and print the summary.
#   scripts/demo.sh [OUT_DIR] [more demo flags]      default demo_out/
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-demo_out}
shift || true
scripts/setup.sh
build/layerwise demo --out "$out" "$@"
echo "demo: per-run results in $out/standard and $out/aligned (eval.json, similarity.json, cos.svg, cka_linear.svg)"
