"""Detection accuracy against COCO-format ground truth: recall, AP at IoU 0.5, by size."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from faceprint.engine import Engine
from faceprint.errors import FaceprintError, InvalidParameter

# Buckets by the square root of the ground-truth box area, in pixels (COCO's
# small/medium/large boundaries are 32 and 96).
SIZE_BUCKETS = (("small_lt32", 0, 32), ("medium_32_96", 32, 96), ("large_ge96", 96, 1e9))


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every xyxy box in ``a`` with every box in ``b``."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def load_coco(path: Path) -> tuple[dict[int, str], dict[int, np.ndarray], dict[int, np.ndarray]]:
    """``(image id -> file name, image id -> (n, 4) xyxy faces, image id -> ignore regions)``.

    Annotations marked ``iscrowd`` (or ``ignore``) are regions where a detection counts
    neither as a hit nor as a false positive.
    """
    try:
        doc = json.loads(Path(path).read_text())
        images = {int(im["id"]): str(im["file_name"]) for im in doc["images"]}
        boxes: dict[int, list[list[float]]] = {i: [] for i in images}
        ignore: dict[int, list[list[float]]] = {i: [] for i in images}
        for ann in doc["annotations"]:
            x, y, w, h = (float(v) for v in ann["bbox"])
            target = ignore if ann.get("iscrowd") or ann.get("ignore") else boxes
            target[int(ann["image_id"])].append([x, y, x + w, y + h])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidParameter(f"{path} is not a COCO detection file: {exc}") from None
    as_array = lambda d: {i: np.array(b, np.float32).reshape(-1, 4) for i, b in d.items()}  # noqa: E731
    return images, as_array(boxes), as_array(ignore)


def average_precision(scores: np.ndarray, is_tp: np.ndarray, n_truth: int) -> float:
    """Area under the interpolated precision-recall curve (all points, VOC 2010+)."""
    if n_truth == 0:
        return float("nan")
    is_tp = np.asarray(is_tp, bool)
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(is_tp[order])
    fp = np.cumsum(~is_tp[order])
    last = tp[-1] / n_truth if len(tp) else 0.0
    recall = np.concatenate([[0.0], tp / n_truth, [last]])
    precision = np.concatenate([[1.0], tp / np.maximum(tp + fp, 1), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum((recall[1:] - recall[:-1]) * precision[1:]))


def evaluate(engine: Engine, coco: Path, images_dir: Path, *, iou: float = 0.5, progress: bool = True) -> dict[str, Any]:
    """Run the engine's detector over a COCO set.

    Keys: ``recall_iou50``, ``ap_iou50`` and ``recall_by_size`` (bucket -> recall);
    ``_false_positives`` (not in the CLI's JSON) counts unmatched detections.
    """
    names, truth, ignored = load_coco(coco)
    all_scores, all_tp = [], []
    hit_sizes, miss_sizes = [], []
    ids = sorted(names)
    results = engine.map(lambda i: engine.detect(images_dir / names[i]), ids)
    for image_id, faces in tqdm(zip(ids, results), total=len(ids), desc="detect", disable=not progress):
        if isinstance(faces, FaceprintError):
            raise InvalidParameter(f"{names[image_id]}: {faces}")
        gt = truth[image_id]
        ious = iou_matrix(faces.xyxy, gt)
        in_ignored = iou_matrix(faces.xyxy, ignored[image_id]).max(axis=1, initial=0.0) >= iou
        matched = np.zeros(len(gt), bool)
        for d in np.argsort(-faces.score):
            # the best ground-truth face not yet taken by a more confident detection
            free = np.where(matched, -1.0, ious[d]) if len(gt) else np.zeros(0)
            j = int(np.argmax(free)) if len(gt) else -1
            ok = j >= 0 and free[j] >= iou
            if ok:
                matched[j] = True
            elif in_ignored[d]:
                continue
            all_scores.append(float(faces.score[d]))
            all_tp.append(ok)
        size = np.sqrt((gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])) if len(gt) else np.zeros(0)
        hit_sizes.extend(size[matched].tolist())
        miss_sizes.extend(size[~matched].tolist())
    n_truth = len(hit_sizes) + len(miss_sizes)
    hits, misses = np.array(hit_sizes), np.array(miss_sizes)
    by_size = {}
    for name, lo, hi in SIZE_BUCKETS:
        h = int(((hits >= lo) & (hits < hi)).sum())
        m = int(((misses >= lo) & (misses < hi)).sum())
        by_size[name] = (h / (h + m)) if h + m else None
    tp = np.array(all_tp, bool)
    return {
        "recall_iou50": len(hits) / n_truth if n_truth else float("nan"),
        "ap_iou50": average_precision(np.array(all_scores), tp, n_truth),
        "recall_by_size": by_size,
        "_false_positives": int((~tp).sum()),
    }


def dlib_xml_to_coco(*xml_paths: Path) -> dict[str, Any]:
    """Convert dlib's imglab XML files (``<box top left width height>``) to one COCO JSON."""
    try:
        elements = [im for p in xml_paths for im in ET.parse(p).getroot().iter("image")]
    except (OSError, ET.ParseError) as exc:
        raise InvalidParameter(f"cannot read dlib XML: {exc}") from None
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for i, im in enumerate(elements, start=1):
        images.append({"id": i, "file_name": im.get("file"), "width": int(im.get("width") or 0), "height": int(im.get("height") or 0)})
        for box in im.iter("box"):
            x, y, w, h = (float(box.get(k) or 0) for k in ("left", "top", "width", "height"))
            crowd = 1 if box.get("ignore") == "1" else 0
            anns.append({"id": len(anns) + 1, "image_id": i, "bbox": [x, y, w, h], "area": w * h, "category_id": 1, "iscrowd": crowd})
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "face"}]}
