"""Rewritten graphs are cached on disk, checked on every read, and never required."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceprint.models import card
from faceprint.models.cache import cache_dir, rewritten


def test_a_rewrite_runs_once_and_a_damaged_copy_is_rewritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEPRINT_CACHE", str(tmp_path))
    calls = []

    def rewrite(data: bytes) -> bytes:
        calls.append(len(data))
        return b"rewritten:" + data[:16]

    sface = card("sface.2021dec")
    first = rewritten(sface, rewrite, "test-v1")
    assert rewritten(sface, rewrite, "test-v1") == first and len(calls) == 1
    graph = next(cache_dir().glob("*.onnx"))
    graph.write_bytes(b"tampered")
    assert rewritten(sface, rewrite, "test-v1") == first and len(calls) == 2
    rewritten(sface, rewrite, "test-v2")  # a new version never reads the old graph
    assert len(calls) == 3


def test_an_unwritable_cache_costs_only_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("FACEPRINT_CACHE", str(blocker))
    assert rewritten(card("sface.2021dec"), lambda d: b"x" + d[:4], "test-v1")[:1] == b"x"
