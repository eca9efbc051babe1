"""Counts that say how the house is kept, for this tree or any git revision:
``# type: ignore`` comments, lines per package and the classes with the most public
methods, under src/faceprint.

    .venv/bin/python scripts/code_counts.py [REV ...]

With revisions, each is read from git (nothing is checked out); ``.`` is the working tree.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sources(rev: str) -> dict[str, str]:
    """Path -> text of every Python file under src/faceprint at ``rev``."""
    if rev == ".":
        return {p.relative_to(REPO / "src").as_posix(): p.read_text() for p in (REPO / "src" / "faceprint").rglob("*.py")}
    names = subprocess.run(["git", "-C", str(REPO), "ls-tree", "-r", "--name-only", rev, "src/faceprint"], check=True, capture_output=True, text=True).stdout.split()
    return {n[len("src/") :]: subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{n}"], check=True, capture_output=True, text=True).stdout for n in names if n.endswith(".py")}


def counts(files: dict[str, str]) -> dict[str, object]:
    per_package: Counter[str] = Counter()
    defined: dict[str, tuple[str, ast.ClassDef]] = {}
    for path, text in files.items():
        parts = path.split("/")
        per_package[parts[1] if len(parts) > 2 else parts[1].removesuffix(".py")] += text.count("\n")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                defined[node.name] = (path, node)

    def public(node: ast.ClassDef) -> set[str]:
        # a class built from mixins offers its bases' methods too (bases found by name)
        own = {f.name for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and not f.name.startswith("_")}
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in defined and defined[base.id][1] is not node:
                own |= public(defined[base.id][1])
        return own

    classes = [(len(public(node)), f"{path}:{name}") for name, (path, node) in defined.items()]
    return {
        "type_ignores": sum(t.count("# type: ignore") for t in files.values()),
        "files": len(files),
        "lines": sum(per_package.values()),
        "lines_per_package": dict(sorted(per_package.items(), key=lambda kv: -kv[1])),
        "largest_classes": sorted(classes, reverse=True)[:5],
    }


def main() -> None:
    for rev in sys.argv[1:] or ["."]:
        c = counts(sources(rev))
        print(f"== {rev}: {c['files']} files, {c['lines']} lines, {c['type_ignores']} '# type: ignore'")
        print("   lines per package: " + ", ".join(f"{k} {v}" for k, v in c["lines_per_package"].items()))  # type: ignore[attr-defined]
        print("   most public methods: " + ", ".join(f"{name} ({n})" for n, name in c["largest_classes"]))  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
