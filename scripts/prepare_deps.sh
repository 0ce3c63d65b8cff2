#!/usr/bin/env bash
# Unpacks the Debian packages the GPU build needs besides PyTorch (header-only libraries, GoogleTest,
# zlib, libpng, libjpeg-turbo and ICU's common library for the tokenizers) into .deps/, the ignored
# folder the device scripts carry to the GPU machine (which has no package registry). Everything
# that travels must stay under 64 MiB, so ICU is cut to what layerwise links: libicuuc and its
# data library, without the static libraries and the i18n / io parts. Run once on a Debian 12
# machine:
#
#   scripts/prepare_deps.sh        then pass carry [".deps", ".data"] to the device runs
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(libcli11-dev nlohmann-json3-dev libgtest-dev googletest zlib1g-dev zlib1g
  libpng-dev libpng16-16 libjpeg62-turbo-dev libjpeg62-turbo libicu-dev libicu72)
downloads=$(mktemp -d)
trap 'rm -rf "$downloads"' EXIT
chmod 755 "$downloads"  # apt downloads as its own user
(cd "$downloads" && apt-get download "${packages[@]}" >/dev/null)
mkdir -p .deps
for deb in "$downloads"/*.deb; do dpkg -x "$deb" .deps; done
lib=.deps/usr/lib/x86_64-linux-gnu
rm -rf "$lib"/libicu*.a "$lib"/libicu{i18n,io,test,tu}.so* "$lib"/icu .deps/usr/share/doc \
  .deps/usr/bin/icu* .deps/usr/sbin .deps/usr/share/man .deps/usr/share/icu
# The libraries the programs load at run time that the GPU machine lacks (ICU 72 and the data
# library libicuuc needs), alone in one folder for LD_LIBRARY_PATH (scripts/device_build.sh).
mkdir -p .deps/runtime
for so in libicuuc.so.72 libicudata.so.72; do ln -sf "../usr/lib/x86_64-linux-gnu/$so" .deps/runtime/; done
echo "unpacked ${#packages[@]} packages into .deps ($(du -sh .deps | cut -f1))"
