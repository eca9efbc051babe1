"""Store fixtures: a fresh store folder per test, its own key, and face-like vectors."""

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


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "home") as s:
        yield s


def unit_vectors(n: int, dim: int = 128, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def new_faces(vectors: np.ndarray, subjects: list[str | None] | None = None) -> list[NewFace]:
    subjects = subjects or [None] * len(vectors)
    return [NewFace(v, Box(0.1, 0.2, 0.3, 0.4), 99.0, "image-1", s) for v, s in zip(vectors, subjects)]
