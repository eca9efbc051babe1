"""VectorIndex: exact below the switch point, PQ candidates + exact re-rank above it."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.store import VectorIndex
from tests.store.conftest import unit_vectors


def brute_force(vectors: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    return ids[np.argsort(-(vectors @ q), kind="stable")[:k]]


def test_exact_search_matches_brute_force():
    v = unit_vectors(500)
    ids = np.arange(10, 510)
    index = VectorIndex()
    index.add(ids, v)
    q = unit_vectors(5, seed=1)
    for row, (got, cos) in zip(q, index.search(q, k=7)):
        assert list(got) == list(brute_force(v, ids, row, 7))
        assert np.allclose(cos, np.sort(v @ row)[::-1][:7], atol=1e-5)
        assert np.all(np.diff(cos) <= 0)


def test_remove_get_and_threshold():
    v = unit_vectors(100)
    index = VectorIndex()
    index.add(np.arange(100), v)
    assert index.remove(np.array([3, 3, 999])) == 1
    assert len(index) == 99
    got, _ = index.search(v[3], k=1)[0]
    assert got[0] != 3
    with pytest.raises(KeyError):
        index.get(np.array([3]))
    assert np.allclose(index.get(np.array([5, 4])), v[[5, 4]])
    ids, cos = index.search(v[7], k=10, min_cosine=0.99)[0]
    assert list(ids) == [7] and cos[0] == pytest.approx(1.0, abs=1e-5)


def test_out_of_order_and_replaced_ids_stay_searchable():
    v = unit_vectors(30)
    index = VectorIndex()
    index.add(np.arange(10, 20), v[:10])
    index.add(np.arange(0, 10), v[10:20])  # older ids arriving late (another process)
    index.add(np.array([15]), v[25:26])  # replaced
    assert list(index.ids()) == list(range(20))
    assert index.search(v[25], k=1)[0][0][0] == 15
    assert index.search(v[10], k=1)[0][0][0] == 0


def test_dimension_is_taken_from_the_first_vectors():
    index = VectorIndex()
    index.add(np.array([1]), unit_vectors(1, dim=256))
    assert index.dim == 256
    assert index.search(unit_vectors(1, dim=256), k=1)[0][0][0] == 1


def test_approximate_index_finds_near_duplicates_and_skips_deleted():
    # identity-structured data: 400 centres with 5 noisy samples each
    rng = np.random.default_rng(2)
    centres = unit_vectors(400, seed=3)
    v = np.repeat(centres, 5, axis=0) + 0.08 * rng.normal(size=(2000, 128)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    index = VectorIndex(approximate_from=1000)
    index.add(np.arange(2000), v)
    assert index.approximate
    probes = centres[:50]
    for i, (ids, cos) in enumerate(index.search(probes, k=5)):
        assert set(ids) == set(range(5 * i, 5 * i + 5))  # the five samples of that identity
        assert np.allclose(cos, np.sort(v @ probes[i])[::-1][:5], atol=1e-5)  # exact scores
    index.remove(np.arange(0, 5))
    ids, _ = index.search(probes[0], k=5)[0]
    assert not set(ids) & set(range(5))
    index.remove(np.arange(5, 1500))  # most gone: back to exact, compacted
    assert not index.approximate and len(index) == 500
    assert index.search(v[1700], k=1)[0][0][0] == 1700


def test_from_arrays_takes_sorted_arrays_and_sorts_others():
    v = unit_vectors(50)
    index = VectorIndex.from_arrays(np.arange(50), v.copy())
    assert list(index.search(v[7], k=1)[0][0]) == [7]
    index.add(np.array([100]), unit_vectors(1, seed=5))  # grows past the adopted arrays
    assert len(index) == 51 and index.search(unit_vectors(1, seed=5), k=1)[0][0][0] == 100
    shuffled = VectorIndex.from_arrays(np.arange(50)[::-1].copy(), v.copy())
    assert list(shuffled.ids()) == list(range(50))
    assert shuffled.search(v[0], k=1)[0][0][0] == 49
