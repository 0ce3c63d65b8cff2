# shellcheck shell=bash
# Sourced by the device_*.sh scripts on the GPU machine: device_build TARGET... builds layerwise
# against PyTorch's LibTorch with CUDA into build-cuda (DESIGN.md section 4), logs in $out.
# LAYERWISE_CMAKE_ARGS adds CMake options (-DLAYERWISE_ICU=OFF where ICU does not travel).
device_build() {
  local torch_prefix
  torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
  # ICU 72 (the tokenizers) comes in .deps (scripts/prepare_deps.sh); the programs load it there.
  export LD_LIBRARY_PATH="$PWD/.deps/runtime${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # nvcc for our own kernels (cmake/cuda_kernels.cmake), where it is not on PATH.
  if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
    export CUDACXX=/usr/local/cuda/bin/nvcc
  fi
  cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DLAYERWISE_CUDA_ARCH=9.0 \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$PWD/.deps/usr" ${LAYERWISE_CMAKE_ARGS:-} >"${out:?}/cmake.log" 2>&1 || { tail -30 "$out/cmake.log"; exit 1; }
  local targets=()
  for target in "$@"; do targets+=(--target "$target"); done
  cmake --build build-cuda -j"$(nproc)" "${targets[@]}" >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
}
