"""The layers of docs/architecture.md hold: no module imports a layer above its own,
and every module has a row."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "faceprint"
TABLE = ROOT / "docs" / "architecture.md"
BASE = {"errors", "types", "constants"}  # shared vocabulary every layer may use


def layer_table() -> dict[str, set[str]]:
    """Each layer's row of docs/architecture.md: the layers it may import."""
    text = TABLE.read_text()
    rows = text[text.index("<!-- layers") : text.index("<!-- end of layers")]
    out: dict[str, set[str]] = {}
    for line in rows.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`(\w+)`", cells[0]) if len(cells) == 3 else None
        if match:
            out[match.group(1)] = {m.strip() for m in cells[2].split(",") if m.strip()}
    return out


ALLOWED = layer_table()


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


def test_every_module_has_a_row() -> None:
    modules = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"} | {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert not modules - set(ALLOWED) - BASE, f"no row in docs/architecture.md for {sorted(modules - set(ALLOWED) - BASE)}"
    assert not set(ALLOWED) - modules, f"rows for layers that do not exist: {sorted(set(ALLOWED) - modules)}"


def sources(name: str) -> list[Path]:
    """A layer's files: a package's modules, or one module."""
    return sorted((SRC / name).rglob("*.py")) if (SRC / name).is_dir() else [SRC / f"{name}.py"]


def test_the_shared_vocabulary_imports_only_itself() -> None:
    for name in sorted(BASE):
        for path in sources(name):
            assert imported_layers(path) <= BASE, f"{path.relative_to(SRC)} reaches into a layer"
    assert imported_layers(SRC / "constants.py") == set()


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    files = sources(layer)
    assert files and all(f.is_file() for f in files), f"no source for {layer}"
    bad = {f.relative_to(SRC).as_posix(): sorted(imported_layers(f) - ALLOWED[layer] - BASE - {layer}) for f in files}
    assert not {f: b for f, b in bad.items() if b}, f"{layer} reaches above its layer"


def test_only_the_edges_reach_the_wire_format() -> None:
    """Rekognition's shapes are built at the edge (api, cli); the core returns typed results."""
    assert {layer for layer, may in ALLOWED.items() if "rekognition" in may} == {"api", "cli"}


def test_the_command_line_starts_without_the_heavy_libraries() -> None:
    """`faceprint --help` must stay fast: importing the CLI loads no numerical or media library."""
    import subprocess
    import sys

    code = "import sys, faceprint.cli.main; print(sorted(m for m in ('numpy', 'cv2', 'onnxruntime', 'av', 'supervision', 'fastapi') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"importing the CLI loads {out}"
