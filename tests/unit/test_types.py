from __future__ import annotations

import numpy as np
import pytest

from faceprint import errors as fp_errors
from faceprint.errors import InvalidParameter
from faceprint.types import Face, Faces
from tests.factories import make_faces


def test_shapes_are_validated_with_a_clear_message() -> None:
    with pytest.raises(InvalidParameter, match=r"landmarks must have shape \(2, 5, 2\), got \(2, 4, 2\)"):
        Faces(xyxy=np.zeros((2, 4)), score=np.zeros(2), landmarks=np.zeros((2, 4, 2)))
    with pytest.raises(InvalidParameter, match="score"):
        Faces(xyxy=np.zeros((2, 4)), score=np.zeros(3), landmarks=np.zeros((2, 5, 2)))


def test_indexing_iteration_and_filters() -> None:
    faces = make_faces(5, dim=8)
    assert len(faces) == 5
    assert isinstance(faces[0], Face) and isinstance(faces[-1], Face)
    sub = faces[faces.score > 0.7]
    assert isinstance(sub, Faces) and len(sub) == int((faces.score > 0.7).sum())
    assert sub.embedding is not None and sub.embedding.shape == (len(sub), 8)
    assert [f.score for f in faces] == pytest.approx(faces.score.tolist())
    with pytest.raises(IndexError):
        faces[5]


def test_largest_and_sorting() -> None:
    faces = make_faces(6)
    biggest = faces.largest()
    assert biggest.xyxy == pytest.approx(tuple(faces.xyxy[int(np.argmax(faces.area))]))
    ordered = faces.sorted_by_area()
    assert np.all(np.diff(ordered.area) <= 0)


def test_empty_and_concat() -> None:
    assert len(Faces.empty()) == 0
    both = Faces.concat([make_faces(2, 4, seed=1), make_faces(3, 4, seed=2)])
    assert len(both) == 5 and both.embedding.shape == (5, 4)
    assert Faces.concat([make_faces(2, 4), make_faces(1)]).embedding is None


def test_typo_in_field_raises() -> None:
    with pytest.raises(AttributeError):
        make_faces(1).embeding  # noqa: B018


def test_boxes_must_be_n_by_4_and_rows_compare_safely() -> None:
    with pytest.raises(InvalidParameter, match="xyxy"):
        Faces(xyxy=np.zeros((2, 2)), score=np.zeros(1), landmarks=np.zeros((1, 5, 2)))
    faces = make_faces(2, dim=4)
    assert (faces[0] == faces[0]) is False  # identity semantics, no array comparison error
    with pytest.raises(fp_errors.NoFaceFound):
        Faces.empty().largest()
