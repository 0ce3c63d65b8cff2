#!/usr/bin/env bash
# Unpacks the Debian packages the GPU build needs besides PyTorch (header-only libraries, GoogleTest,
# zlib, libpng and libjpeg-turbo) into .deps/, the ignored folder the device scripts carry to the
# GPU machine (which has no package registry). Run once on a Debian 12 machine:
#
#   scripts/prepare_deps.sh        then pass carry [".deps", ".data"] to the device runs
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(libcli11-dev nlohmann-json3-dev libgtest-dev googletest zlib1g-dev zlib1g
  libpng-dev libpng16-16 libjpeg62-turbo-dev libjpeg62-turbo)
downloads=$(mktemp -d)
trap 'rm -rf "$downloads"' EXIT
chmod 755 "$downloads"  # apt downloads as its own user
(cd "$downloads" && apt-get download "${packages[@]}" >/dev/null)
mkdir -p .deps
for deb in "$downloads"/*.deb; do dpkg -x "$deb" .deps; done
echo "unpacked ${#packages[@]} packages into .deps ($(du -sh .deps | cut -f1))"
