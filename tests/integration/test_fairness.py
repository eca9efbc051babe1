"""`faceprint eval fairness` on 60 real UTKFace images (12 of each race, measure split)."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import data_root

pytestmark = pytest.mark.models

UTK = data_root() / "fairness" / "utkface"


@pytest.fixture(scope="module")
def slice_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A labels file naming 12 measure-split images of each race, fit rows kept in
    too (``--where split=measure`` must leave them out)."""
    if not (UTK / "labels.csv").is_file():
        pytest.skip(f"UTKFace not in the shared data ({UTK}); set FACEPRINT_DATA to run this test")
    with open(UTK / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    picked = []
    for race in sorted({r["race"] for r in rows}):
        picked += [r for r in rows if r["race"] == race and r["split"] == "measure"][:12]
    picked += [r for r in rows if r["split"] == "fit"][:5]
    out = tmp_path_factory.mktemp("fairness") / "slice.csv"
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(picked)
    return out


def test_fairness_on_a_utkface_slice(slice_csv: Path, tmp_path: Path) -> None:
    import faceprint as fp
    from faceprint.cli.main import cli
    from faceprint.eval.embeddings import embed_files
    from faceprint.eval.fairness_labels import read_labels

    cache, plot = tmp_path / "cache", tmp_path / "fmr.png"
    args = ["eval", "fairness", str(UTK), "--groups", str(slice_csv), "--where", "split=measure", "--reps", "200", "--cache-dir", str(cache), "--plot", str(plot)]
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rep = json.loads(result.output[result.output.index("{") :])
    assert rep["images"] + rep["excluded"] == 60 and rep["images"] >= 50
    assert rep["settings"]["group_columns"] == ["race", "gender", "age"]
    groupings = {g["grouping"] for g in rep["groups"]}
    assert groupings == {"all", "race", "gender", "age", "race x gender", "race x age", "gender x age"}

    everyone = next(g for g in rep["groups"] if g["grouping"] == "all")
    n = everyone["images"]
    assert everyone["impostor_pairs"] == n * (n - 1) // 2 and everyone["genuine_pairs"] == 0
    at3, at4 = everyone["at"]
    # about 1,700 pairs: enough to show 1e-3, not 1e-4
    assert at3["fmr"] is not None and at3["fmr_low"] <= at3["fmr"] <= at3["fmr_high"]
    assert at4["fmr"] is None and at4["fmr_note"] == f"n/a: {everyone['impostor_pairs']:,} pairs cannot show 1e-4"
    assert at3["fnmr"] is None and "no identities" in at3["fnmr_note"]
    # 12 images of one race are 66 pairs: no rate is printed for them
    white = next(g for g in rep["groups"] if g["grouping"] == "race" and g["name"] == "White")
    assert white["at"][0]["fmr"] is None and white["at"][0]["fmr_note"] == "n/a: 66 pairs cannot show 1e-3"

    # the harness decides as the engine does: recount with Engine.rate on the same embeddings
    labels = read_labels(slice_csv, UTK, where={"split": "measure"})
    with fp.Engine() as engine:
        emb = embed_files(engine, labels.files, cache_dir=cache, progress=False)
        keep = np.flatnonzero(~emb.no_face & ~emb.failed)
        v = emb.vectors
        matches = sum(engine.rate(float(v[i] @ v[j]), v[i], v[j], min_similarity=30.0).is_match for i, j in itertools.combinations(keep, 2))
        # the region calibration has no single threshold: each face brings its own
        assert engine.regions is not None and rep["thresholds_cosine"]["1e-3"] is None
        assert "region calibration" in rep["calibration"]
    assert at3["false_matches"] == matches

    # the 'before': the single LFW table, which lets far more of these pairs match
    before = CliRunner().invoke(cli, [*args, "--calibration", "global", "--json"], catch_exceptions=False)
    old = json.loads(before.output[before.output.index("{") :])
    assert old["calibration"].startswith("global table") and old["thresholds_cosine"]["1e-3"] is not None
    old_all = next(g for g in old["groups"] if g["grouping"] == "all")
    assert old_all["at"][0]["false_matches"] > at3["false_matches"]

    assert plot.is_file() and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = CliRunner().invoke(cli, args, catch_exceptions=False).output
    assert "n/a: 66 pairs cannot show 1e-3" in text and "### race x age" in text
