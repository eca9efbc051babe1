"""The region calibration on synthetic embeddings: a dense region (faces the model
separates poorly) gets a stricter threshold than a sparse one, a pair is as risky as
its riskier face, undecidable faces are refused, and the file round-trips. No model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceprint.errors import InvalidParameter
from faceprint.eval.calibrate import fit_regions
from faceprint.matching import FaceBar
from faceprint.matching.calibration import CalibrationTable, similarity_from_fmr
from faceprint.matching.regions import RegionCalibration

DIM = 32


def cluster(centre: np.ndarray, n: int, spread: float, rng: np.random.Generator) -> np.ndarray:
    v = centre[None, :] + spread * rng.normal(size=(n, DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def world() -> tuple[RegionCalibration, np.ndarray, np.ndarray]:
    """Two kinds of face: a tight cluster (strangers alike, like young children to many
    models) and a loose one (strangers far apart), every face a different person."""
    rng = np.random.default_rng(0)
    a, b = np.zeros(DIM), np.zeros(DIM)
    a[0], b[1] = 1.0, 1.0
    dense, sparse = cluster(a, 400, 0.12, rng), cluster(b, 400, 0.5, rng)
    x = np.concatenate([dense, sparse])
    regions = fit_regions(x, np.arange(len(x)), embedder="t", contract="t/1", dataset="synthetic", command="test", regions=2, temperature=0.0)
    # k-means may place a stray loose face in the tight region: keep each kind's own
    home = regions.weights(dense).argmax(1)
    tight = int(np.bincount(home).argmax())
    return regions, dense[home == tight], sparse[regions.weights(sparse).argmax(1) != tight]


def test_a_dense_region_gets_a_stricter_threshold(world: tuple[RegionCalibration, np.ndarray, np.ndarray]) -> None:
    regions, dense, sparse = world
    t_dense = regions.thresholds(dense[:50], 30.0)
    t_sparse = regions.thresholds(sparse[:50], 30.0)
    assert np.isfinite(t_dense).all() and np.isfinite(t_sparse).all()
    assert np.median(t_dense) > np.median(t_sparse) + 0.2


def test_the_rate_holds_inside_each_region(world: tuple[RegionCalibration, np.ndarray, np.ndarray]) -> None:
    """Fresh strangers of each kind: at the threshold for 1e-2 about 1% of their pairs
    match, where one table for both would let most dense pairs match."""
    regions, _, _ = world
    rng = np.random.default_rng(1)
    a, b = np.zeros(DIM), np.zeros(DIM)
    a[0], b[1] = 1.0, 1.0
    for centre, spread in ((a, 0.12), (b, 0.5)):
        v = cluster(centre, 200, spread, rng)
        sim = regions.similarity_matrix(v, v)[np.triu_indices(len(v), 1)]
        assert 0.002 < float((sim >= 20.0).mean()) < 0.03


def test_a_pair_is_as_risky_as_its_riskier_face(world: tuple[RegionCalibration, np.ndarray, np.ndarray]) -> None:
    regions, dense, sparse = world
    cos = 0.5
    f_dd, _, _ = regions.rate(cos, dense[0], dense[1])
    f_ss, _, _ = regions.rate(cos, sparse[0], sparse[1])
    f_ds, _, _ = regions.rate(cos, dense[0], sparse[1])
    assert f_ss < f_dd and f_ds == pytest.approx(f_dd, rel=0.05)
    sims = regions.similarity_matrix(dense[:3], sparse[:3])
    assert sims[0, 1] == pytest.approx(float(similarity_from_fmr(regions.rate(float(dense[0] @ sparse[1]), dense[0], sparse[1])[0])), abs=0.05)


def test_a_face_no_useful_cosine_can_decide_is_refused(world: tuple[RegionCalibration, np.ndarray, np.ndarray]) -> None:
    regions, dense, sparse = world
    strict = RegionCalibration(regions.embedder, regions.contract, regions.centroids, regions.tables, 0.0, "x", "x", decidable_cosine=0.75)
    t = strict.thresholds(np.stack([dense[0], sparse[0]]), 30.0)
    assert np.isinf(t[0]) and np.isfinite(t[1])
    assert strict.decidable(np.stack([dense[0], sparse[0]]), 30.0).tolist() == [False, True]
    assert strict.rate(0.99, dense[0], sparse[0], 30.0)[2] is False and strict.rate(0.99, sparse[0], sparse[1], 30.0)[2] is True
    bar = FaceBar(30.0, lambda v: strict.thresholds(v, 30.0))
    assert bar.pair(dense[0], sparse[0]) == np.inf and bar.pair(sparse[0], sparse[1]) < 0.75


def test_the_file_round_trips(world: tuple[RegionCalibration, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    regions, dense, _ = world
    regions.save(tmp_path / "r.npz")
    back = RegionCalibration.load(tmp_path / "r.npz")
    assert back.decidable_cosine == regions.decidable_cosine and len(back.tables) == len(regions.tables)
    np.testing.assert_allclose(back.thresholds(dense[:5], 30.0), regions.thresholds(dense[:5], 30.0))


def test_fitting_drops_regions_too_small_to_measure_and_bounds_tails() -> None:
    rng = np.random.default_rng(2)
    centres = np.eye(DIM)[:3]
    # 40 faces make 780 pairs: too few for a table of their own
    x = np.concatenate([cluster(centres[0], 300, 0.3, rng), cluster(centres[1], 300, 0.3, rng), cluster(centres[2], 40, 0.05, rng)])
    r = fit_regions(x, np.arange(len(x)), embedder="t", contract="t/1", dataset="s", command="c", regions=3, min_tail_slope=-30.0)
    assert len(r.tables) == 2 and all(t.impostor_pairs >= 1000 for t in r.tables)
    assert all(t.tail_slope <= -30.0 for t in r.tables)


def test_bad_inputs_are_refused(world: tuple[RegionCalibration, np.ndarray, np.ndarray]) -> None:
    regions, _, _ = world
    with pytest.raises(InvalidParameter):
        regions.thresholds(np.ones((1, DIM + 1), np.float32), 30.0)
    with pytest.raises(InvalidParameter):
        fit_regions(np.ones((10, DIM), np.float32), np.arange(10), embedder="t", contract="t", dataset="s", command="c", regions=2)
    table = CalibrationTable.measure("t", "t", np.linspace(-0.5, 0.5, 2000), dataset="d", command="c")
    with pytest.raises(InvalidParameter):
        RegionCalibration("t", "t", np.ones((2, DIM), np.float32), [table], 0.0, "d", "c")


def test_liveness_one_person_bar_follows_the_calibration(world: tuple[RegionCalibration, np.ndarray, np.ndarray]) -> None:
    """Two frames of 'one person' that are only as alike as strangers of a dense kind:
    the raw 0.30 bar lets the swap through, the calibrated bar does not."""
    from faceprint.liveness.passive import SAME_PERSON, one_person

    regions, dense, _ = world
    pair = dense[:2]
    assert one_person(pair) >= SAME_PERSON  # strangers of a dense kind score high
    calibrated = one_person(pair, lambda v: regions.thresholds(v, 20.0))
    assert calibrated < SAME_PERSON


def test_reach_is_where_decidability_ends(world: tuple[RegionCalibration, np.ndarray, np.ndarray]) -> None:
    regions, dense, sparse = world
    faces = np.concatenate([dense[:20], sparse[:20]])
    reach = regions.reach(faces)
    for similarity in (10.0, 20.0, 30.0, 40.0):
        np.testing.assert_array_equal(reach >= similarity - 1e-9, regions.decidable(faces, similarity))
