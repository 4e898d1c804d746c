#!/usr/bin/env bash
# Install what the browser test of `text2music serve` needs (tests/serve/test_page.py):
# Playwright for Python (pinned) and Debian's Chromium, which Playwright drives through
# executable_path (Playwright's own browser download needs its CDN; Debian's package does not).
# Idempotent: does nothing that is already done. Needs root (or sudo) for apt-get.
# Usage: bash scripts/install_browser.sh      (PYTHON=... for another interpreter)
set -euo pipefail
PY=${PYTHON:-python3}
PLAYWRIGHT_VERSION=1.65.2

if ! "$PY" -c "import playwright, importlib.metadata as m; assert m.version('playwright') == '$PLAYWRIGHT_VERSION'" 2>/dev/null; then
    "$PY" -m pip install --quiet --disable-pip-version-check "playwright==$PLAYWRIGHT_VERSION"
fi

if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
echo "browser for tests installed: $(chromium --version 2>/dev/null | head -1), playwright $PLAYWRIGHT_VERSION"
