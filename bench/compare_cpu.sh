#!/usr/bin/env bash
# CPU: the engine against the same computation in PyTorch Python on the same LibTorch (Debian's
# python3-torch 1.13), one run after the other on the same data shapes, then a markdown table.
#   bench/compare_cpu.sh [SIZES] [LAYERS] [WIDTH]      default 1000,5000 13 768
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${1:-1000,5000}; layers=${2:-13}; width=${3:-768}
out=${OUT:-build/bench_cpu.jsonl}
rm -f "$out"
build/bench/bench_similarity --device cpu --n "$sizes" --layers "$layers" --width "$width" \
  --baseline-max-n 1000 --repeats 3 --json "$out"
/usr/bin/python3 bench/similarity_reference.py --device cpu --n "$sizes" --layers "$layers" \
  --width "$width" --repeats 3 >>"$out"
python3 bench/summarize.py --compare "$out"
