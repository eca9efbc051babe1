"""The one box rule (imaging/boxes.py): pixel xyxy to fractions, unclamped, as Rekognition gives them."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.errors import InvalidParameter
from faceprint.imaging import box_fractions
from faceprint.rekognition.shapes import bounding_box, face_detail
from faceprint.types import Box as StoreBox, Box, Faces
from faceprint.video.alerts import Alert


def _close(box: Box, want: tuple[float, float, float, float]) -> bool:
    return bool(np.allclose((box.left, box.top, box.width, box.height), want))


def test_a_box_inside_the_image_is_divided_by_its_size() -> None:
    assert _close(box_fractions((10, 20, 60, 100), (200, 100)), (0.05, 0.2, 0.25, 0.8))


@pytest.mark.parametrize(
    ("xyxy", "want"),
    [
        ((-20, 10, 30, 50), (-0.2, 0.1, 0.5, 0.4)),  # past the left edge: the whole face, Left below 0
        ((10, -30, 50, 40), (0.1, -0.3, 0.4, 0.7)),  # past the top
        ((80, 70, 130, 120), (0.8, 0.7, 0.5, 0.5)),  # past the right and bottom: beyond 1
        ((-10, -10, 110, 110), (-0.1, -0.1, 1.2, 1.2)),  # larger than the image
    ],
)
def test_a_box_reaching_past_the_image_keeps_its_whole_size(xyxy: tuple[float, ...], want: tuple[float, ...]) -> None:
    assert _close(box_fractions(xyxy, (100, 100)), want)


def test_a_box_whose_far_edge_comes_first_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="far edges"):
        box_fractions((50, 10, 40, 20), (100, 100))


@pytest.mark.parametrize("image_wh", [(0, 100), (100, 0), (0, 0), (-5, 10)])
def test_an_image_without_pixels_is_refused(image_wh: tuple[int, int]) -> None:
    with pytest.raises(InvalidParameter, match="pixels"):
        box_fractions((0, 0, 1, 1), image_wh)


@pytest.mark.parametrize("xyxy", [(0, 0, 1), (0, 0, 1, float("nan")), (0, float("inf"), 1, 1)])
def test_a_malformed_box_is_refused(xyxy: tuple[float, ...]) -> None:
    with pytest.raises(InvalidParameter):
        box_fractions(xyxy, (10, 10))


def test_numpy_edges_give_plain_floats_for_json() -> None:
    box = box_fractions(np.array([1, 2, 3, 4], np.float32), (10, 10))
    assert all(type(v) is float for v in (box.left, box.top, box.width, box.height))


def test_the_store_keeps_the_same_box_type() -> None:
    assert StoreBox is Box


def test_responses_and_alerts_report_the_one_rule() -> None:
    """DetectFaces' FaceDetail, the box IndexFaces stores and a stream alert give a face
    at the image's edge one box (the stored one used to be clamped, the others not)."""
    faces = Faces(xyxy=[[-20, 50, 40, 130]], score=[0.9], landmarks=np.zeros((1, 5, 2)))
    stored = bounding_box(box_fractions(faces.xyxy[0], (200, 100)))
    assert stored == {"Width": 0.3, "Height": 0.8, "Left": -0.1, "Top": 0.5}
    assert face_detail(faces[0], (200, 100))["BoundingBox"] == stored  # type: ignore[arg-type]
    alert = Alert("door", 0.0, 0.0, 1, "watch", "f", None, None, 99.0, 1e-6, "m", box_fractions(faces.xyxy[0], (200, 100)), b"")
    assert alert.to_dict()["BoundingBox"] == stored
