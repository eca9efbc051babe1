"""Store fixtures: a fresh store per test on each backend (a SQLite folder, and a new
database on a real PostgreSQL server), its own key, and face-like vectors.

``store`` and ``open_store`` are parametrized over the backends, so every test that
uses them runs against both: the same module, not a reduced copy."""

from __future__ import annotations

import numpy as np
import pytest

from faceprint.store import Store
from faceprint.types import Box, NewFace

MODEL = "test-model/v1"


@pytest.fixture(autouse=True)
def _isolated_key(monkeypatch):
    for var in ("FACEPRINT_KEY", "FACEPRINT_KEY_FILE", "FACEPRINT_HOME", "FACEPRINT_ACTOR"):
        monkeypatch.delenv(var, raising=False)


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_store(backend: str, tmp_path, request: pytest.FixtureRequest):
    """``open_store(home=None, **kw)``: a Store on this test's backend. Stores opened
    with the same ``home`` (or none) share one database, as processes on one machine
    (SQLite) or servers of one database (PostgreSQL) do."""
    url = request.getfixturevalue("database_url") if backend == "postgresql" else None

    def make(home=None, **kw) -> Store:
        return Store(home or tmp_path / "home", database=url, **kw)

    return make


@pytest.fixture
def store(open_store):
    with open_store() as s:
        yield s


def unit_vectors(n: int, dim: int = 128, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def new_faces(vectors: np.ndarray, subjects: list[str | None] | None = None) -> list[NewFace]:
    subjects = subjects or [None] * len(vectors)
    return [NewFace(v, Box(0.1, 0.2, 0.3, 0.4), 99.0, "image-1", s) for v, s in zip(vectors, subjects)]
