#!/usr/bin/env bash
# The main job on built-in data: set up (packages + build), generate layer activations of a random
# residual network, and compute every similarity measure between its layers.
#   scripts/demo.sh [OUT_DIR]      default demo_out/
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-demo_out}
scripts/setup.sh
mkdir -p "$out"
build/layerwise example --samples 4000 --tokens 8 --width 128 --layers 12 --out "$out/example_layers.safetensors"
build/layerwise compare "$out/example_layers.safetensors" --metrics all --pool mean --out "$out/similarity"
echo "demo: open $out/similarity/cos.svg and $out/similarity/cka_linear.svg; all numbers in $out/similarity/similarity.json"
