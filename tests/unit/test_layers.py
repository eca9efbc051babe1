"""DESIGN.md's layers hold: no module imports a layer above its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "faceprint"

BASE = {"errors", "types", "constants"}  # shared vocabulary every layer may use
# What each package (or top-level module) may import besides BASE. engine.py is the
# analysis layer's facade; results.py and shapes.py are the store's data in
# Rekognition's names (its boxes made by imaging/boxes.py, the one box rule); service.py
# joins engine and store for the shells above.
ALLOWED: dict[str, set[str]] = {
    "imaging": set(),
    "models": {"imaging"},
    "analysis": {"models", "imaging"},
    "matching": set(),
    "store": {"matching"},
    "engine": {"analysis", "models", "imaging", "matching"},
    "gallery": {"engine", "analysis", "models", "imaging", "matching"},
    "results": {"store", "matching"},
    "shapes": {"results", "store", "matching", "analysis", "imaging"},
    "search": {"engine", "analysis", "models", "imaging", "matching", "store", "results"},
    "attention": {"analysis", "models", "imaging"},
    "liveness": {"analysis", "models", "imaging"},
    "video": {"engine", "analysis", "models", "imaging", "matching", "store", "results", "shapes", "search"},
    "eval": {"liveness", "engine", "analysis", "models", "imaging", "matching", "store", "gallery"},
    "service": {"engine", "analysis", "models", "imaging", "matching", "store", "results", "shapes", "gallery", "search"},
    "enrolment": {"service", "results", "gallery", "imaging"},
    "api": {"service", "enrolment", "search", "video", "attention", "liveness", "engine", "analysis", "models", "imaging", "matching", "store", "results", "shapes", "gallery"},
}


def imported_layers(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "faceprint" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    files = sorted((SRC / layer).rglob("*.py")) if (SRC / layer).is_dir() else [SRC / f"{layer}.py"]
    assert files and all(f.is_file() for f in files), f"no source for {layer}"
    bad = {f.relative_to(SRC).as_posix(): sorted(imported_layers(f) - ALLOWED[layer] - BASE - {layer}) for f in files}
    assert not {f: b for f, b in bad.items() if b}, f"{layer} reaches above its layer"


def test_the_command_line_starts_without_the_heavy_libraries() -> None:
    """`faceprint --help` must stay fast: importing the CLI loads no numerical or media library."""
    import subprocess
    import sys

    code = "import sys, faceprint.cli.main; print(sorted(m for m in ('numpy', 'cv2', 'onnxruntime', 'av', 'supervision', 'fastapi') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"importing the CLI loads {out}"
