#!/usr/bin/env bash
# Proves that layerwise works as an installed C++ library: installs an already-built tree into a
# temporary prefix, configures and builds examples/consumer against it as an outside project would
# (find_package(layerwise)), runs it on activations made by the installed CLI and checks that both
# printed matrices (COS, linear CKA) have 1 on the diagonal: every layer is identical to itself.
#
#   tests/install_test.sh BUILD_DIR [CMAKE_ARGS...]
#
# CMAKE_ARGS go to the consumer's configure (generator, compiler, build type). Where LibTorch is
# not in a system path, name it in the CMAKE_PREFIX_PATH environment variable. $CMAKE, when set,
# is the cmake to use (CTest passes the one that configured the build).
set -euo pipefail
cmake=${CMAKE:-cmake}

if (($# < 1)); then
  echo "usage: $0 BUILD_DIR [CMAKE_ARGS...]" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
shift
source_dir=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/layerwise_install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

echo "== cmake --install $build_dir --prefix $prefix"
if ! "$cmake" --install "$build_dir" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log"
  exit 1
fi
for f in bin/layerwise include/layerwise/analysis/similarity.h lib/cmake/layerwise/layerwiseConfig.cmake; do
  [[ -e $prefix/$f ]] || { echo "not installed: $f" >&2; exit 1; }
done

echo "== configure and build examples/consumer against $prefix"
"$cmake" -S "$source_dir/examples/consumer" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$prefix" "$@"
"$cmake" --build "$tmp/build"

echo "== installed layerwise example, then layerwise_consumer"
layers=4  # blocks: the file holds layer.0 (the input) .. layer.4, so 5 layers
"$prefix/bin/layerwise" example -q --out "$tmp/acts.safetensors" --samples 200 --layers "$layers" >/dev/null
"$tmp/build/layerwise_consumer" "$tmp/acts.safetensors" | tee "$tmp/out.txt"

# Each matrix: a "name: description" line, a "layer 0 1 ..." header, one row per layer.
awk -v want_rows=$((layers + 1)) '
  /^[a-z_]+: / { name = substr($1, 1, length($1) - 1); rows = 0; next }
  $1 == "layer" { next }
  NF == 0 && name != "" { if (rows != want_rows) bad = bad name " has " rows " rows; "; name = ""; next }
  name != "" {
    rows++
    d = $(rows + 1) - 1
    if (d > 1e-3 || d < -1e-3) bad = bad name " [" rows "," rows "] = " $(rows + 1) "; "
    matrices[name] = 1
  }
  END {
    if (name != "" && rows != want_rows) bad = bad name " has " rows " rows; "
    if (!("cos" in matrices) || !("cka_linear" in matrices)) bad = bad "cos or cka_linear missing; "
    if (bad != "") { print "FAIL: " bad; exit 1 }
    print "diagonals are 1: the installed library works from an outside project"
  }' "$tmp/out.txt"
