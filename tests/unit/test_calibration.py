from __future__ import annotations

import numpy as np
import pytest

from faceprint.errors import InvalidParameter
from faceprint.matching import CalibrationTable, fmr_from_similarity, load_calibration, similarity_from_fmr


@pytest.fixture(scope="module")
def table() -> tuple[CalibrationTable, np.ndarray]:
    scores = np.random.default_rng(0).normal(0.0, 0.1, 1_000_000)
    return CalibrationTable.measure("test", "test/v1", scores, dataset="synthetic", command="-"), scores


def test_fmr_matches_the_measured_share(table: tuple[CalibrationTable, np.ndarray]) -> None:
    t, scores = table
    for q in (0.1, 0.2, 0.3):  # measured: at least 100 impostors above each
        assert t.false_match_rate(q) == pytest.approx(np.mean(scores >= q), rel=0.1)
    # 4 sigma: 31 impostors above, so the value is extrapolated; a straight log-tail
    # stays within a factor of two of a Gaussian's there
    assert t.false_match_rate(0.4) == pytest.approx(np.mean(scores >= 0.4), rel=1.0)


def test_threshold_inverts_fmr(table: tuple[CalibrationTable, np.ndarray]) -> None:
    t, scores = table
    for fmr in (1e-1, 1e-2, 1e-3, 1e-4):
        thr = t.threshold(max_false_match_rate=fmr)
        assert np.mean(scores >= thr) == pytest.approx(fmr, rel=0.15)
        assert t.false_match_rate(thr) == pytest.approx(fmr, rel=0.05)


def test_tail_is_extrapolated_monotonically(table: tuple[CalibrationTable, np.ndarray]) -> None:
    t, _ = table
    xs = np.linspace(0.3, 1.0, 50)
    f = t.false_match_rate(xs)
    assert np.all(np.diff(f) <= 0)
    assert t.false_match_rate(1.0) < t.measured_down_to
    thr = t.threshold(max_false_match_rate=1e-8)
    assert thr > max(t.scores)
    assert t.false_match_rate(thr) == pytest.approx(1e-8, rel=0.05)


def test_similarity_scale() -> None:
    assert similarity_from_fmr(1.0) == 0.0
    assert similarity_from_fmr(1e-3) == pytest.approx(30.0)
    assert similarity_from_fmr(1e-20) == 100.0
    assert fmr_from_similarity(50) == pytest.approx(1e-5)
    for bad in (-1, 101, float("nan")):
        with pytest.raises(InvalidParameter):
            fmr_from_similarity(bad)


def test_threshold_arguments_are_checked(table: tuple[CalibrationTable, np.ndarray]) -> None:
    t, _ = table
    with pytest.raises(InvalidParameter):
        t.threshold()
    with pytest.raises(InvalidParameter):
        t.threshold(max_false_match_rate=1e-3, min_similarity=30)
    with pytest.raises(InvalidParameter):
        t.threshold(max_false_match_rate=0)


def test_too_few_impostors_is_refused() -> None:
    with pytest.raises(InvalidParameter):
        CalibrationTable.measure("x", "x", np.zeros(10), dataset="-", command="-")


@pytest.mark.parametrize("embedder", ["sface.2021dec", "sface.2021dec+flip", "dlib.resnet_v1", "fusion.sface-flip+dlib"])
def test_shipped_tables_are_sane(embedder: str) -> None:
    t = load_calibration(embedder)
    assert t.embedder == embedder
    assert t.impostor_pairs > 10_000_000
    assert np.all(np.diff(t.scores) >= 0) and np.all(np.diff(t.log10_fmr) <= 0)
    assert t.measured_down_to < 1e-5
    # a stricter false-match rate needs a higher score
    thresholds = [t.threshold(max_false_match_rate=10.0**-k) for k in range(1, 8)]
    assert np.all(np.diff(thresholds) > 0)
