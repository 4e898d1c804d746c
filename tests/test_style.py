"""The code passes the project's formatter and linter (ruff, configured in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["text2music", "tests", "bench", "scripts"]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args, *PATHS], cwd=ROOT, capture_output=True, text=True)


def test_ruff_format_leaves_the_code_as_it_is():
    out = _ruff("format", "--check")
    assert out.returncode == 0, f"run `ruff format`:\n{out.stdout}{out.stderr}"


def test_ruff_lint_is_clean():
    out = _ruff("check")
    assert out.returncode == 0, f"run `ruff check --fix`:\n{out.stdout}{out.stderr}"
