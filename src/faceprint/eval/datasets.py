"""Readers for evaluation data layouts: LFW View 2 and identity folders."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from faceprint.gallery import person_images
from faceprint.errors import InvalidParameter



@dataclass(frozen=True)
class PairSet:
    """Verification pairs over a list of image files.

    Attributes:
        files: every image used, sorted.
        a, b: indexes into ``files`` for each pair.
        same: True for genuine pairs.
        fold: the fold of each pair (LFW View 2 has 10), or all 0.
    """

    files: list[Path]
    a: list[int]
    b: list[int]
    same: list[bool]
    fold: list[int]


def lfw_pairs(root: Path) -> PairSet:
    """LFW View 2: ``root/pairs.txt`` and ``root/images/<name>/<name>_NNNN.jpg``.

    Raises:
        InvalidParameter: the folder does not have that layout.
    """
    pairs_txt = root / "pairs.txt"
    if not pairs_txt.is_file():
        raise InvalidParameter(f"{root} has no pairs.txt (expected LFW View 2 layout)")
    lines = [ln.split() for ln in pairs_txt.read_text().splitlines() if ln.strip()]
    try:
        folds, per_fold = int(lines[0][0]), int(lines[0][1])
    except (IndexError, ValueError):
        raise InvalidParameter(f"{pairs_txt} must start with a line 'FOLDS PAIRS_PER_FOLD'") from None
    rows = lines[1:]
    if len(rows) != folds * per_fold * 2:
        raise InvalidParameter(f"pairs.txt declares {folds}x{per_fold}x2 pairs but has {len(rows)}")

    def path(name: str, num: str) -> Path:
        return root / "images" / name / f"{name}_{int(num):04d}.jpg"

    raw: list[tuple[Path, Path, bool, int]] = []
    for i, r in enumerate(rows):
        fold = i // (2 * per_fold)
        if len(r) == 3:
            raw.append((path(r[0], r[1]), path(r[0], r[2]), True, fold))
        elif len(r) == 4:
            raw.append((path(r[0], r[1]), path(r[2], r[3]), False, fold))
        else:
            raise InvalidParameter(f"pairs.txt line {i + 2} is malformed: {' '.join(r)}")
    files = sorted({p for a, b, _, _ in raw for p in (a, b)})
    missing = [p for p in files if not p.is_file()]
    if missing:
        raise InvalidParameter(f"{len(missing)} images named in pairs.txt are missing, e.g. {missing[0]}")
    index = {p: i for i, p in enumerate(files)}
    return PairSet(
        files=files,
        a=[index[a] for a, _, _, _ in raw],
        b=[index[b] for _, b, _, _ in raw],
        same=[s for _, _, s, _ in raw],
        fold=[f for _, _, _, f in raw],
    )


def identity_folders(root: Path) -> tuple[list[Path], list[str]]:
    """``root/<identity>/<image>``: files sorted by identity then name, and labels.

    Raises:
        InvalidParameter: no such folder, or no images in it.
    """
    items = person_images(root)
    files = [f for _, f in items]
    labels = [person for person, _ in items]
    return files, labels


def read_groups(csv_path: Path, root: Path, column: str = "gender") -> dict[Path, str]:
    """A per-image group label (e.g. gender) from a CSV with ``image`` and ``column``.

    Image paths in the CSV are relative to ``root``.
    """
    out: dict[Path, str] = {}
    with open(csv_path, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "image" not in reader.fieldnames or column not in reader.fieldnames:
            raise InvalidParameter(f"{csv_path} needs the columns image and {column}")
        for row in reader:
            out[root / row["image"]] = row[column]
    return out
