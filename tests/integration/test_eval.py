"""The evaluation harness on small slices of the real data."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import faceprint as fp
from faceprint.eval import detection, identify, verify
from faceprint.eval.embeddings import embed_files
from faceprint.eval.metrics import kfold_accuracy, tar_at_far
from faceprint.eval.verify import pair_scores
from faceprint.eval.datasets import lfw_pairs

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def lfw_fold(data: Path, tmp_path_factory: pytest.TempPathFactory):
    """The first View 2 fold (600 pairs) embedded once."""
    if not (data / "lfw" / "pairs.txt").is_file():
        pytest.skip("LFW not in the shared data")
    ps = lfw_pairs(data / "lfw")
    keep = [i for i, f in enumerate(ps.fold) if f == 0]
    used = sorted({ps.a[i] for i in keep} | {ps.b[i] for i in keep})
    remap = {old: new for new, old in enumerate(used)}
    with fp.Engine() as engine:
        emb = embed_files(engine, [ps.files[i] for i in used], choose="centre", progress=False)
    a = np.array([remap[ps.a[i]] for i in keep])
    b = np.array([remap[ps.b[i]] for i in keep])
    same = np.array([ps.same[i] for i in keep])
    return pair_scores(emb.vectors, a, b), same, emb


def test_lfw_fold_accuracy(lfw_fold) -> None:  # noqa: ANN001
    scores, same, emb = lfw_fold
    folds = np.arange(len(scores)) % 10  # cross-validate the threshold inside the fold
    acc, _, _ = kfold_accuracy(scores, same, folds)
    assert acc >= 0.98
    assert emb.no_face.sum() <= 3 and not emb.failed.any()


def test_calibration_holds_on_lfw_impostors(lfw_fold, engine: fp.Engine) -> None:  # noqa: ANN001
    scores, same, _ = lfw_fold
    impostor = scores[~same]
    thr = engine.calibration.threshold(max_false_match_rate=1e-2)
    assert np.mean(impostor >= thr) <= 0.03  # 300 impostor pairs: 1% is 3 pairs
    assert tar_at_far(scores[same], impostor, 0.01)[0] > 0.97


def _knn_copy(data: Path, tmp: Path) -> Path:
    src = data / "people/face_recognition/examples/knn_examples/train"
    dst = tmp / "train"
    shutil.copytree(src, dst)
    return dst


def test_folder_verify_keys(data: Path, tmp_path: Path, engine: fp.Engine) -> None:
    root = _knn_copy(data, tmp_path)
    res = verify.folder(engine, root, progress=False)
    assert {k for k in res if not k.startswith("_")} == {"tar_at_far", "genuine_pairs", "impostor_pairs"}
    assert set(res["tar_at_far"]) == {"0.01", "0.001", "0.0001"}
    counts = [len(list(p.iterdir())) for p in root.iterdir()]
    genuine = sum(n * (n - 1) // 2 for n in counts)
    total = sum(counts) * (sum(counts) - 1) // 2
    assert res["genuine_pairs"] == genuine
    assert res["impostor_pairs"] == min(total - genuine, 100 * genuine)
    assert res["tar_at_far"]["0.01"] >= 0.75


def test_identify_keys_and_rank1(data: Path, tmp_path: Path, engine: fp.Engine) -> None:
    res = identify.identify(engine, _knn_copy(data, tmp_path), progress=False)
    assert {k for k in res if not k.startswith("_")} == {"rank1", "rank5", "fnir_at_fpir"}
    assert res["rank1"] >= 0.9 and res["rank5"] >= res["rank1"]


def test_detection_eval_on_dlib_faces(data: Path, tmp_path: Path, engine: fp.Engine) -> None:
    import json

    root = data / "detection/dlib_faces"
    coco = tmp_path / "testing.json"
    coco.write_text(json.dumps(detection.dlib_xml_to_coco(root / "testing.xml")))
    res = detection.evaluate(engine, coco, root, progress=False)
    assert {k for k in res if not k.startswith("_")} == {"recall_iou50", "ap_iou50", "recall_by_size"}
    assert res["recall_iou50"] >= 0.8 and res["ap_iou50"] >= 0.7
