from __future__ import annotations

import math

import numpy as np
import pytest

from faceprint.analysis.align import TEMPLATE_112, align_face, similarity_transform


def test_similarity_transform_recovers_a_known_warp() -> None:
    angle, scale, shift = math.radians(20), 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    src = TEMPLATE_112.astype(np.float64)
    dst = src @ rot.T + shift
    m = similarity_transform(src, dst)
    assert m[:, :2] == pytest.approx(rot, abs=1e-6)
    assert m[:, 2] == pytest.approx(shift, abs=1e-6)


def test_align_puts_landmarks_on_the_template() -> None:
    img = np.zeros((300, 300, 3), np.uint8)
    lm = TEMPLATE_112 * 2.0 + 40.0  # the template, scaled and shifted inside the image
    for x, y in lm:
        img[int(round(y)) - 1 : int(round(y)) + 2, int(round(x)) - 1 : int(round(x)) + 2] = 255
    crop = align_face(img, lm)
    assert crop.shape == (112, 112, 3)
    for x, y in TEMPLATE_112:
        assert crop[int(round(y)), int(round(x))].max() > 100
