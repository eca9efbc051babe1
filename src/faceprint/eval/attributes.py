"""Attribute validation: eyes-open and mouth-open calls against hand labels, and head
pose against its own mirror image (a mirrored face must turn the other way).

The labels live in ``tests/data/attribute_labels.csv`` (how they were made:
docs/attributes.md). Each row names an image under the data folder (or a frame of a
video), and the eyes and mouth as ``open``, ``closed`` or empty (not sure: left out).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from faceprint.analysis.attributes import FaceAttributes
from faceprint.analysis.quality import five_point_pose
from faceprint.engine import Engine


@dataclass(frozen=True)
class Labelled:
    file: str
    frame: int | None
    eyes: str  # "open", "closed" or "" (left out)
    mouth: str


def read_labels(path: Path) -> list[Labelled]:
    with path.open(newline="") as f:
        return [Labelled(r["file"], int(r["frame"]) if r["frame"] else None, r["eyes"], r["mouth"]) for r in csv.DictReader(f)]


def labelled_images(data: Path, labels: list[Labelled]) -> Iterator[tuple[Labelled, np.ndarray | Path]]:
    """Each label with its image: a path, or a video frame's RGB pixels (each video is
    decoded once)."""
    frames: dict[str, dict[int, np.ndarray]] = {}
    for item in labels:
        if item.frame is None:
            yield item, data / item.file
            continue
        if item.file not in frames:
            wanted = {i.frame for i in labels if i.file == item.file}
            with av.open(str(data / item.file)) as container:
                frames[item.file] = {i: f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(video=0)) if i in wanted}
        yield item, frames[item.file][item.frame]


def largest_face_attributes(engine: Engine, image: np.ndarray | Path) -> FaceAttributes | None:
    pixels = engine.load(image)
    faces = engine.analyzer.detect(pixels)
    return engine.analyzer.attributes(pixels, faces[:1])[0] if len(faces) else None


def measured_ratios(engine: Engine, data: Path, labels: list[Labelled]) -> dict[str, list[tuple[bool, float]]]:
    """Per attribute, (labelled open, measured openness) for every labelled face found."""
    out: dict[str, list[tuple[bool, float]]] = {"eyes": [], "mouth": [], "no_face": []}
    for item, image in labelled_images(data, labels):
        attrs = largest_face_attributes(engine, image)
        if attrs is None:
            out["no_face"].append((False, 0.0))
            continue
        for name, truth, ratio in (("eyes", item.eyes, float(np.mean(attrs.eye_openness))), ("mouth", item.mouth, attrs.mouth_openness)):
            if truth:
                out[name].append((truth == "open", ratio))
    return out


def fit_cut(pairs: list[tuple[bool, float]]) -> float:
    """The openness cut with the best balanced accuracy (mean of the two classes'
    accuracies, so a rare class counts as much as a common one)."""
    values = sorted({r for _, r in pairs})
    cuts = [(a + b) / 2 for a, b in zip(values, values[1:])] or values
    return max(cuts, key=lambda c: balanced_accuracy(pairs, c))


def balanced_accuracy(pairs: list[tuple[bool, float]], cut: float) -> float:
    rates = [np.mean([(r >= cut) == truth for t, r in pairs if t == truth]) for truth in (True, False) if any(t == truth for t, _ in pairs)]
    return float(np.mean(rates)) if rates else float("nan")


def label_accuracy(engine: Engine, data: Path, labels: list[Labelled], cuts: dict[str, float]) -> dict[str, dict[str, object]]:
    """Per attribute: counts, accuracy and balanced accuracy at the shipped cut, the
    cut the labels themselves would pick, and a two-fold estimate of how well a cut
    picked on one half of the labels does on the other half."""
    measured = measured_ratios(engine, data, labels)
    out: dict[str, dict[str, object]] = {}
    for name in ("eyes", "mouth"):
        pairs, cut = measured[name], cuts[name]
        halves = (pairs[0::2], pairs[1::2])
        two_fold = [balanced_accuracy(test, fit_cut(train)) for train, test in (halves, halves[::-1])]
        out[name] = {
            "labelled": len(pairs),
            "open": sum(t for t, _ in pairs),
            "closed": sum(not t for t, _ in pairs),
            "cut": cut,
            "accuracy": float(np.mean([(r >= cut) == t for t, r in pairs])),
            "balanced_accuracy": balanced_accuracy(pairs, cut),
            "open_called_closed": sum(t and r < cut for t, r in pairs),
            "closed_called_open": sum((not t) and r >= cut for t, r in pairs),
            "ratio_median_open": float(np.median([r for t, r in pairs if t])),
            "ratio_median_closed": float(np.median([r for t, r in pairs if not t])),
            "cut_fitted_on_all": fit_cut(pairs),
            "two_fold_balanced_accuracy": float(np.mean(two_fold)),
        }
    out["no_face"] = {"images": len(measured["no_face"])}
    return out


def mirror_agreement(engine: Engine, images: list[Path]) -> dict[str, object]:
    """Yaw of each face and of its mirror image: they should be opposite. Reports the
    error ``|yaw + yaw_mirrored|`` for the mesh pose, the five-point pose and the gaze."""
    errors: dict[str, list[float]] = {"mesh_yaw": [], "five_point_yaw": [], "gaze_yaw": [], "mesh_roll": []}
    yaws: list[float] = []
    for path in images:
        pixels = engine.load(path)
        mirrored = np.ascontiguousarray(pixels[:, ::-1])
        a, b = engine.analyzer.detect(pixels), engine.analyzer.detect(mirrored)
        if len(a) == 0 or len(b) == 0:
            continue
        ma, mb = engine.analyzer.attributes(pixels, a[:1])[0], engine.analyzer.attributes(mirrored, b[:1])[0]
        wa, wb = (pixels.shape[1], pixels.shape[0]), (mirrored.shape[1], mirrored.shape[0])
        qa, qb = five_point_pose(a.landmarks[0], wa), five_point_pose(b.landmarks[0], wb)  # what Quality's pose once was
        yaws.append(abs(ma.pose.yaw))
        errors["mesh_yaw"].append(abs(ma.pose.yaw + mb.pose.yaw))
        errors["mesh_roll"].append(abs(ma.pose.roll + mb.pose.roll))
        errors["gaze_yaw"].append(abs(ma.gaze.yaw + mb.gaze.yaw))
        if np.isfinite(qa[0]) and np.isfinite(qb[0]):
            errors["five_point_yaw"].append(abs(qa[0] + qb[0]))
    out: dict[str, object] = {"faces": len(yaws), "abs_yaw_median": float(np.median(yaws)) if yaws else None, "abs_yaw_p90": float(np.percentile(yaws, 90)) if yaws else None}
    for name, e in errors.items():
        out[name] = {"median": float(np.median(e)), "p90": float(np.percentile(e, 90)), "max": float(np.max(e))} if e else None
    return out
