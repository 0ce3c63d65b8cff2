#!/usr/bin/env bash
# Opens a local HTML or SVG file in headless Chromium (Debian's `chromium`), as the report test does.
#
#   scripts/browser.sh dom FILE                      the document after loading, on stdout; the
#                                                    browser's console messages on stderr
#   scripts/browser.sh screenshot FILE OUT.png [W,H] a screenshot of the first W x H pixels
#                                                    (default 1280,2400)
#
# Each call uses a fresh profile folder, removed afterwards.
set -euo pipefail
mode=${1:?usage: browser.sh dom FILE | screenshot FILE OUT.png [W,H]}
file=${2:?missing FILE}
[ -f "$file" ] || { echo "browser.sh: $file: no such file" >&2; exit 2; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "browser.sh: chromium is not installed (scripts/setup.sh installs it)" >&2; exit 3; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
url="file://$(realpath "$file")"
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run
  --user-data-dir="$profile" --enable-logging=stderr --v=0 --hide-scrollbars)
case "$mode" in
  dom)
    # Keep only the page's console messages from the browser's log.
    "$browser" "${flags[@]}" --dump-dom "$url" 2> >(grep -a "CONSOLE" >&2 || true)
    ;;
  screenshot)
    out=${3:?missing OUT.png}
    size=${4:-1280,2400}
    "$browser" "${flags[@]}" --window-size="$size" --screenshot="$(realpath -m "$out")" "$url" \
      > /dev/null 2> >(grep -a "CONSOLE" >&2 || true)
    [ -s "$out" ] || { echo "browser.sh: no screenshot written to $out" >&2; exit 1; }
    ;;
  *)
    echo "browser.sh: unknown mode '$mode' (dom or screenshot)" >&2
    exit 2
    ;;
esac
