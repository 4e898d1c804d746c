"""Imports only point down the data flow: data -> features -> text -> models -> train -> generate
-> evaluate -> serve (with utils, workers, theory, production and analysis below them all, the CLI on top)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "text2music"
FLOW = [
    "utils",
    "workers",
    "theory",
    "production",
    "analysis",
    "data",
    "features",
    "text",
    "models",
    "train",
    "generate",
    "evaluate",
    "serve",
    "cli",
]


def package_imports() -> list[tuple[str, str, str]]:
    """(file, its top-level part, the part it imports) for every import between parts, lazy ones included."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        part = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                bits = name.split(".")
                if bits[0] == "text2music" and len(bits) > 1 and bits[1] != part:
                    found.append((str(rel), part, bits[1]))
    return found


def test_imports_point_down_the_data_flow():
    upward = [(f, a, b) for f, a, b in package_imports() if a in FLOW and b in FLOW and FLOW.index(b) > FLOW.index(a)]
    assert not upward, upward


def test_every_part_has_a_place_in_the_flow():
    parts = {p.name for p in PACKAGE.iterdir() if p.is_dir() and any(p.glob("*.py"))}
    parts |= {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("__")}
    assert parts <= set(FLOW), parts - set(FLOW)


def test_no_private_names_cross_modules():
    crossing = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("text2music")):
                crossing += [
                    f"{path.relative_to(PACKAGE)}: {a.name}" for a in node.names if a.name.startswith("_") and not a.name.startswith("__")
                ]
    assert not crossing, crossing


def test_no_function_over_100_lines():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 100:
                long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert not long, long


def test_generation_and_serving_import_no_corpus_code():
    """Making music loads no corpus module: the theory both need lives in text2music.theory."""
    found = [(f, b) for f, a, b in package_imports() if a in ("generate", "serve") and b == "data"]
    assert not found, found
