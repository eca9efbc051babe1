"""Shared fixtures: the real data folder (FACEPRINT_DATA, default ../shared/data) and
one engine per mode for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.postgres import database_url, postgres_server  # noqa: F401 - fixtures for every test module

REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    return Path(os.environ.get("FACEPRINT_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _private_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands that audit (compare, search...) write to a throwaway store, never to
    the user's ~/.faceprint, and no key from the environment leaks in."""
    monkeypatch.setenv("FACEPRINT_HOME", str(tmp_path_factory.mktemp("faceprint-home")))
    for var in ("FACEPRINT_KEY", "FACEPRINT_KEY_FILE", "FACEPRINT_ACTOR"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def data() -> Path:
    root = data_root()
    if not (root / "people").is_dir():
        pytest.skip(f"real face data not found at {root}; set FACEPRINT_DATA to run this test")
    return root


@pytest.fixture(scope="session")
def engine():
    import faceprint as fp

    with fp.Engine() as e:
        yield e


@pytest.fixture(scope="session")
def accurate_engine():
    import faceprint as fp

    with fp.Engine("accurate", workers=1) as e:
        yield e


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.browser import summarize

    summarize(terminalreporter)
