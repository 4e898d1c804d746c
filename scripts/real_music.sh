#!/usr/bin/env bash
# The real-music corpus: every package of text2music/data/assets/debian_music.tsv (about 45 h of
# freely licensed game soundtracks and tracker music), downloaded one at a time, imported with
# automatic captions, deleted. Resumable. Licences and authors go to OUT/ATTRIBUTION.md.
#   bash scripts/real_music.sh [OUT] [more `text2music data debian` flags, e.g. --max-hours 10]
set -euo pipefail
OUT=${1:-data/real}
shift || true
if [ "$(id -u)" = 0 ]; then
  apt-get update -q >/dev/null
else
  echo "not root: assuming the apt lists are up to date (sudo apt-get update)" >&2
fi
text2music data debian --out "$OUT" "$@"
