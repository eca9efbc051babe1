"""The region calibration on real faces (UTKFace's measure split, never used to fit
it): a watch list of children no longer names strangers, and a face no useful cosine
can decide is refused with a reason instead of matched."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import faceprint as fp
from faceprint.rekognition import shapes
from faceprint.matching import UNREACHABLE
from faceprint.types import FacesMeta
from tests.conftest import data_root

pytestmark = pytest.mark.models

UTK = data_root() / "fairness" / "utkface"


def measure_images(race: str, ages: range, n: int) -> list[Path]:
    if not (UTK / "labels.csv").is_file():
        pytest.skip(f"UTKFace not in the shared data ({UTK}); set FACEPRINT_DATA to run this test")
    with open(UTK / "labels.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "measure" and r["race"] == race and int(r["age"]) in ages]
    return [UTK / r["path"] for r in sorted(rows, key=lambda r: r["path"])[:n]]


@pytest.fixture(scope="module")
def children(engine: fp.Engine) -> np.ndarray:
    """Embeddings of 40 Asian children (0-17), one face each."""
    vectors = []
    for path in measure_images("Asian", range(0, 18), 48):
        faces = engine.analyze(path)
        if len(faces):
            vectors.append(faces.sorted_by_area().embedding[0])
    assert len(vectors) >= 40
    return np.stack(vectors[:40])


def named(engine: fp.Engine, enrolled: np.ndarray, strangers: np.ndarray) -> int:
    gallery = fp.Gallery([f"child-{i}" for i in range(len(enrolled))], enrolled, engine.analyzer.embedder.contract, [])
    hits = 0
    for v in strangers:
        face = fp.Faces(xyxy=np.zeros((1, 4)), score=np.ones(1), landmarks=np.zeros((1, 5, 2)), embedding=v[None], meta=FacesMeta(image_wh=(1, 1), embedder=engine.analyzer.embedder.contract))
        hits += gallery.identify(engine, face)[0].label is not None
    return hits


def test_a_watch_list_of_children_no_longer_names_strangers(engine: fp.Engine, children: np.ndarray) -> None:
    """The issue's watch list, smaller: 20 enrolled, 20 other children searched at the
    default threshold (similarity 40, 1 in 10,000). At a true 1e-4 about 0.04 of them
    would be named; the global LFW table named most of them."""
    enrolled, strangers = children[:20], children[20:]
    after = named(engine, enrolled, strangers)
    regions = engine._regions
    try:
        engine._regions = None  # the global table alone: the behaviour before the fix
        before = named(engine, enrolled, strangers)
    finally:
        engine._regions = regions
    assert before >= 10, f"the global table named only {before} of 20 strangers; the test no longer shows the failure"
    assert after <= 1, f"{after} of 20 strangers named at the default threshold"


def test_a_child_the_calibration_cannot_decide_is_refused_not_matched(engine: fp.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At similarity 50 (1 in 100,000) the fast model cannot keep the rate for most young
    Asian children's faces: the search says so (boto3 clients ignore the extra member),
    even for the very photo that was indexed. At 30 the same search matches."""
    monkeypatch.delenv("FACEPRINT_KEY", raising=False)
    monkeypatch.delenv("FACEPRINT_KEY_FILE", raising=False)
    bars = {}
    for path in measure_images("Asian", range(0, 6), 30):
        faces = engine.analyze(path)
        if len(faces):
            bars[path] = engine.bar(50.0).face(faces.sorted_by_area().embedding[0])
    refused = [p for p, b in bars.items() if not np.isfinite(b)]
    assert refused, "no young child's face is undecidable at 50 any more: revisit this test"
    child = refused[0]
    with fp.Service(tmp_path / "home", engine=engine) as svc:
        svc.create_collection("kids", purpose="test", consent_required=False)
        svc.index_faces("kids", child, external_image_id="child", max_faces=1)
        strict = svc.search_faces_by_image("kids", child, min_similarity=50.0)
        assert strict.refusal == UNREACHABLE and strict.matches == []
        body = shapes.search_faces(strict)
        assert body["FaceMatches"] == [] and body["SearchedFaceRefusal"]["Reason"] == UNREACHABLE
        loose = svc.search_faces_by_image("kids", child, min_similarity=30.0)
        assert loose.refusal is None and [m.face.external_image_id for m in loose.matches] == ["child"]
    verdict = engine.verify(child, child, min_similarity=50.0)
    assert verdict.refusal == UNREACHABLE and not verdict.is_match
