from __future__ import annotations

import numpy as np
import pytest

import json
from pathlib import Path

from faceprint.errors import InvalidParameter
from faceprint.eval.detection import average_precision, dlib_xml_to_coco, evaluate, iou_matrix
from faceprint.types import Faces
from faceprint.eval.metrics import best_threshold, fnir_at_fpir, kfold_accuracy, rank_k, rates_at, tar_at_far


def test_tar_at_far_counts_impostors_above_threshold() -> None:
    impostor = np.arange(1000) / 1000.0  # 0.000 .. 0.999
    genuine = np.array([0.5, 0.995, 0.9995, 2.0])
    tar, thr = tar_at_far(genuine, impostor, 0.01)
    assert np.mean(impostor >= thr) <= 0.01
    assert tar == pytest.approx(0.75)
    tar, _ = tar_at_far(genuine, impostor, 0.001)
    assert tar == pytest.approx(0.5)


def test_kfold_accuracy_on_separable_and_noisy_data() -> None:
    rng = np.random.default_rng(0)
    same = np.tile([True, False], 300)
    folds = np.repeat(np.arange(10), 60)
    separable = np.where(same, 1.0, 0.0) + rng.normal(0, 0.01, 600)
    assert kfold_accuracy(separable, same, folds)[0] == 1.0
    noisy = np.where(same, 1.0, 0.0) + rng.normal(0, 0.5, 600)
    acc, std, per_fold = kfold_accuracy(noisy, same, folds)
    assert 0.75 < acc < 0.95 and len(per_fold) == 10 and std > 0


def test_best_threshold_and_rates() -> None:
    scores = np.array([0.1, 0.2, 0.8, 0.9])
    same = np.array([False, False, True, True])
    thr = best_threshold(scores, same)
    assert 0.2 < thr < 0.8
    assert rates_at(scores, same, thr) == (0.0, 0.0)
    assert rates_at(scores, same, 0.85) == (0.0, 0.5)


def test_rank_k_and_fnir() -> None:
    sim = np.array([[0.9, 0.1, 0.2], [0.3, 0.2, 0.4]])
    gallery = np.array(["a", "b", "c"])
    probes = np.array(["a", "b"])
    assert rank_k(sim, probes, gallery, 1) == 0.5
    assert rank_k(sim, probes, gallery, 3) == 1.0
    fnir, thr = fnir_at_fpir(np.array([0.9, 0.4]), np.array([True, False]), np.linspace(0, 0.5, 100), 0.01)
    assert fnir == 0.5 and thr > 0.49


def test_iou_and_average_precision() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    assert iou_matrix(a, b)[0].tolist() == pytest.approx([1.0, 1 / 3, 0.0])
    assert average_precision(np.array([0.9, 0.8]), np.array([True, True]), 2) == pytest.approx(1.0)
    assert average_precision(np.array([0.9, 0.8]), np.array([False, True]), 2) == pytest.approx(0.25)


def test_dlib_xml_conversion(tmp_path) -> None:  # noqa: ANN001
    xml = tmp_path / "t.xml"
    xml.write_text("<dataset><images><image file='a.jpg' width='10' height='10'><box top='1' left='2' width='3' height='4'/>"
                   "<box top='0' left='0' width='1' height='1' ignore='1'/></image></images></dataset>")
    coco = dlib_xml_to_coco(xml)
    assert coco["images"][0]["file_name"] == "a.jpg"
    assert [(a["bbox"], a["iscrowd"]) for a in coco["annotations"]] == [([2.0, 1.0, 3.0, 4.0], 0), ([0.0, 0.0, 1.0, 1.0], 1)]


def test_degenerate_inputs_are_refused_or_nan() -> None:
    with pytest.raises(InvalidParameter):
        kfold_accuracy(np.array([0.1, 0.9]), np.array([False, True]), np.zeros(2))
    with pytest.raises(InvalidParameter):
        best_threshold(np.zeros(0), np.zeros(0, bool))
    assert np.isnan(tar_at_far(np.array([0.9]), np.zeros(0), 0.01)[0])


class _FakeEngine:
    """Just enough of an Engine for detection.evaluate: fixed detections per image."""

    def __init__(self, detections: dict[str, Faces]) -> None:
        self.detections = detections

    def detect(self, path: Path) -> Faces:
        return self.detections[path.name]

    def map(self, fn, items):  # noqa: ANN001, ANN201
        return map(fn, items)


def _faces(boxes: list[list[float]], scores: list[float]) -> Faces:
    return Faces(xyxy=np.array(boxes, np.float32).reshape(-1, 4), score=np.array(scores), landmarks=np.zeros((len(boxes), 5, 2)))


def test_detection_matching_uses_free_faces_and_ignore_regions(tmp_path: Path) -> None:
    coco = {
        "images": [{"id": 1, "file_name": "a.jpg"}],
        "annotations": [
            {"image_id": 1, "bbox": [0, 0, 10, 10]},
            {"image_id": 1, "bbox": [4, 0, 10, 10]},  # overlaps the first face
            {"image_id": 1, "bbox": [50, 50, 10, 10], "iscrowd": 1},  # ignored region
        ],
    }
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(coco))
    # the second detection's best box is taken by the first: it must fall back to the free one
    dets = _faces([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]], [0.9, 0.8, 0.7])
    res = evaluate(_FakeEngine({"a.jpg": dets}), path, tmp_path, progress=False)  # type: ignore[arg-type]
    assert res["recall_iou50"] == 1.0 and res["_false_positives"] == 0 and res["ap_iou50"] == pytest.approx(1.0)
