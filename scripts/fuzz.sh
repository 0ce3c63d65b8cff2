#!/usr/bin/env bash
# In-process fuzzing of layerwise's parsers with libFuzzer (Debian's clang, ASan + UBSan).
#
#   scripts/fuzz.sh TARGET SECONDS   TARGET: safetensors, config, idx, text, run_json, hf,
#                                    tokenizer, image or all (every target SECONDS, one per core at once)
#
# Builds build-fuzz/fuzz_TARGET from the parser's own sources (instrumented) and LibTorch (not),
# runs it for SECONDS on a copy of the seed corpus fuzz/corpus/TARGET, and fails on any crash,
# sanitizer report, leak or timeout; the input that caused it is left in build-fuzz/ (turn it into
# a regression test). Needs clang and libclang-rt-14-dev (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(safetensors config idx text run_json hf tokenizer image)
usage="usage: scripts/fuzz.sh $(IFS='|'; echo "${targets[*]}")|all SECONDS"
target=${1:?$usage}
seconds=${2:?$usage}
# The sources each target needs besides its own file, and the libraries besides LibTorch.
target_sources() {
  libs=()
  case $1 in
    safetensors) sources=(src/core/safetensors.cpp src/core/atomic_file.cpp) ;;
    config) sources=(src/core/config_fields.cpp src/model/config.cpp) ;;
    idx) sources=(src/data/idx.cpp) libs=(-lz) ;;
    text) sources=(src/data/text_corpus.cpp src/data/stratified_split.cpp src/core/atomic_file.cpp) ;;
    run_json)
      sources=(src/core/run_dir.cpp src/core/atomic_file.cpp src/core/staged_folder.cpp
               src/core/version.cpp src/report/run_files.cpp src/report/html_report.cpp
               src/report/charts.cpp src/report/page_parts.cpp src/report/svg.cpp
               src/report/layer_table.cpp src/report/similarity_matrices.cpp) ;;
    hf)
      sources=(src/model/hf_config.cpp src/model/config.cpp src/core/config_fields.cpp
               src/data/hf_image_processor.cpp src/data/image_pipeline.cpp src/data/image_resize.cpp
             src/data/image_file.cpp src/core/atomic_file.cpp)
      libs=(-lpng16 -ljpeg) ;;
    tokenizer)
      sources=(src/data/tokenizer.cpp src/data/hf_tokenizers.cpp src/core/atomic_file.cpp)
      libs=(-licuuc) ;;
    image)
      sources=(src/data/image_file.cpp) libs=(-lpng16 -ljpeg) ;;
    *) echo "fuzz.sh: unknown target '$1' (${targets[*]} or all)" >&2; exit 2 ;;
  esac
  sources=("fuzz/fuzz_$1.cpp" "${sources[@]}")
}

out=build-fuzz
mkdir -p "$out/obj"
# Line tables only: stack traces keep their lines, and the build takes a quarter less time. The
# parsers include LibTorch, so <torch/torch.h> is parsed once into a precompiled header.
flags=(-std=c++17 -O1 -gline-tables-only -fsanitize=fuzzer-no-link,address,undefined
       -fno-sanitize-recover=undefined -D_GLIBCXX_USE_CXX11_ABI=1 -DLAYERWISE_VERSION='"fuzz"'
       -DLAYERWISE_GIT='"fuzz"' -Iinclude -isystem /usr/include/torch/csrc/api/include)
pch=$out/torch.pch

object_of() { echo "$out/obj/$(basename "${1%.cpp}").o"; }

# Compiles the given sources whose object is missing or older, one compiler per core.
compile() {
  if [[ ! -f $pch ]]; then
    echo '#include <torch/torch.h>' >"$out/torch.h"
    clang++ "${flags[@]}" -x c++-header "$out/torch.h" -o "$pch.tmp" && mv "$pch.tmp" "$pch"
  fi
  local stale=() source object
  for source in "$@"; do
    object=$(object_of "$source")
    [[ -f $object && ! $source -nt $object ]] || stale+=("$source")
  done
  local running=0
  for source in "${stale[@]}"; do
    echo "fuzz.sh: compiling $source"
    clang++ "${flags[@]}" -include-pch "$pch" -c "$source" -o "$(object_of "$source")" &
    running=$((running + 1))
    if ((running >= $(nproc))); then wait -n; running=$((running - 1)); fi
  done
  while ((running > 0)); do wait -n; running=$((running - 1)); done
}

# Links build-fuzz/fuzz_TARGET when one of its objects is newer.
link() {
  target_sources "$1"
  local binary="$out/fuzz_$1" objects=() source relink=0
  for source in "${sources[@]}"; do objects+=("$(object_of "$source")"); done
  [[ -x $binary ]] || relink=1
  for object in "${objects[@]}"; do [[ $object -nt $binary ]] && relink=1; done
  if ((relink)); then
    clang++ -fsanitize=fuzzer,address,undefined "${objects[@]}" -o "$binary" -ltorch -ltorch_cpu \
      -lc10 "${libs[@]}"
  fi
}

if [[ $target == all ]]; then
  # Every target's objects in one pool, then the links, then one target fuzzed per core at a time;
  # each target's output is shown when it ends.
  all_sources=()
  for t in "${targets[@]}"; do target_sources "$t"; all_sources+=("${sources[@]}"); done
  mapfile -t all_sources < <(printf '%s\n' "${all_sources[@]}" | sort -u)
  compile "${all_sources[@]}"
  for t in "${targets[@]}"; do link "$t"; done
  logs=$(mktemp -d)
  trap 'rm -rf "$logs"' EXIT
  running=()  # "pid:target"
  failed=0
  finish() {  # waits for the oldest running target and shows its output
    local pid=${running[0]%%:*} t=${running[0]#*:}
    wait "$pid" || { echo "fuzz.sh: $t FAILED"; failed=1; }
    cat "$logs/$t"
    running=("${running[@]:1}")
  }
  for t in "${targets[@]}"; do
    "$0" "$t" "$seconds" >"$logs/$t" 2>&1 &
    running+=("$!:$t")
    if ((${#running[@]} >= $(nproc))); then finish; fi
  done
  while ((${#running[@]} > 0)); do finish; done
  exit "$failed"
fi

target_sources "$target"
compile "${sources[@]}"
link "$target"
binary="$out/fuzz_$target"
mkdir -p "$out/corpus-$target"

cp -n fuzz/corpus/"$target"/* "$out/corpus-$target"/ 2>/dev/null || true
echo "fuzz.sh: fuzzing $target for $seconds s"
# One MiB inputs at most, 10 s per input, 2 GiB of memory: a parser must refuse, not allocate. The
# recommended dictionary is left out of the output, so that the final line (cov, ft) stays in it.
ASAN_OPTIONS=detect_leaks=1 "$binary" -max_total_time="$seconds" -max_len=1048576 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/crash-$target-" \
  "$out/corpus-$target" 2>&1 | grep -v -i -e '^"' -e 'recommended dictionary' | tail -25
