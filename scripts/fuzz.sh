#!/usr/bin/env bash
# In-process fuzzing of layerwise's parsers with libFuzzer (Debian's clang, ASan + UBSan).
#
#   scripts/fuzz.sh TARGET SECONDS   TARGET: safetensors, config or all
#
# Builds build-fuzz/fuzz_TARGET from the parser's own sources (instrumented) and LibTorch (not),
# runs it for SECONDS on a copy of the seed corpus fuzz/corpus/TARGET, and fails on any crash,
# sanitizer report, leak or timeout; the input that caused it is left in build-fuzz/ (turn it into
# a regression test). Needs clang and libclang-rt-14-dev (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh safetensors|config|all SECONDS}
seconds=${2:?usage: scripts/fuzz.sh safetensors|config|all SECONDS}
if [[ $target == all ]]; then
  for t in safetensors config; do "$0" "$t" "$seconds"; done
  exit 0
fi

# The sources each target needs besides its own file.
case $target in
  safetensors) sources=(src/core/safetensors.cpp src/core/atomic_file.cpp) ;;
  config) sources=(src/core/config_fields.cpp src/model/config.cpp) ;;
  *) echo "fuzz.sh: unknown target '$target' (safetensors, config or all)" >&2; exit 2 ;;
esac

out=build-fuzz
mkdir -p "$out/obj" "$out/corpus-$target"
torch_include=(-isystem /usr/include/torch/csrc/api/include)
flags=(-std=c++17 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
       -D_GLIBCXX_USE_CXX11_ABI=1 -Iinclude "${torch_include[@]}")
objects=()
for source in "fuzz/fuzz_$target.cpp" "${sources[@]}"; do
  object="$out/obj/$(basename "${source%.cpp}").o"
  if [[ ! -f $object || $source -nt $object ]]; then
    echo "fuzz.sh: compiling $source"
    clang++ "${flags[@]}" -c "$source" -o "$object"
  fi
  objects+=("$object")
done
binary="$out/fuzz_$target"
clang++ -fsanitize=fuzzer,address,undefined "${objects[@]}" -o "$binary" -ltorch -ltorch_cpu -lc10

cp -n fuzz/corpus/"$target"/* "$out/corpus-$target"/ 2>/dev/null || true
echo "fuzz.sh: fuzzing $target for $seconds s"
# One MiB inputs at most, 10 s per input, 2 GiB of memory: a parser must refuse, not allocate.
ASAN_OPTIONS=detect_leaks=1 "$binary" -max_total_time="$seconds" -max_len=1048576 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/crash-$target-" \
  "$out/corpus-$target" 2>&1 | tail -25
