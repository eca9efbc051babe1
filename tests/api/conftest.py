"""A real server on a loopback port, and keys for every role.

The server runs as ``faceprint serve`` in a subprocess over a temporary store, exactly
as users start it; clients reach it over TCP. One server serves the whole test session
(models load once); tests make their own collections with unique names.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from faceprint.store import ROLES, Store
from tests.conftest import data_root

DATA = data_root()


@dataclass(frozen=True)
class Server:
    url: str
    home: Path
    keys: dict[str, tuple[str, str]]  # role -> (key id, secret)
    bucket: Path
    log: Path
    database: str | None = None  # the server's --store, when not the embedded store

    def open_store(self) -> Store:
        """The server's store, opened as another process (the CLI) would."""
        return Store(self.home, database=self.database)

    def cli_env(self) -> dict[str, str]:
        """The environment a command run beside the server needs to reach its store."""
        return {**os.environ, "FACEPRINT_HOME": str(self.home), **({"FACEPRINT_STORE": self.database} if self.database else {})}

    def client(self, role: str = "admin", service: str = "rekognition", **config: object):
        """An unmodified boto3 client signed with ``role``'s key, with boto3's default
        retries unless ``config`` says otherwise (``retries={"max_attempts": 1}`` to see
        every error as it is answered)."""
        import boto3
        from botocore.config import Config

        key_id, secret = self.keys[role]
        session = boto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret, region_name="us-east-1")
        if service == "faceprint":
            from faceprint.api.model import MODELS_DIR

            session._session.get_component("data_loader").search_paths.insert(0, str(MODELS_DIR))
        cfg = Config(**config)
        client = session.client(service, endpoint_url=self.url, config=cfg)
        client.meta.events.register("before-parse", _check_against_model)
        return client


def _check_against_model(operation_model, response_dict, **_: object) -> None:
    """Hold every successful response to the service model, member by member, before
    botocore parses it (botocore itself would silently drop unknown members)."""
    from faceprint.api.model import check_output

    if response_dict["status_code"] == 200:
        check_output(operation_model, json.loads(response_dict["body"]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, *args: str, scheme: str = "http", env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log = home / f"server-{port}.log"
    env = {**os.environ, "FACEPRINT_HOME": str(home), **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "faceprint.cli.main", "serve", "--port", str(port), "--data", str(home), *args],
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"{scheme}://127.0.0.1:{port}"
    context = ssl._create_unverified_context() if scheme == "https" else None  # readiness only
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2, context=context) as r:
                if json.load(r)["ready"]:
                    return proc, url, log
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the server did not become ready in 120 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def make_keys(home: Path, database: str | None = None) -> dict[str, tuple[str, str]]:
    with Store(home, database=database) as store:
        return {role: tuple(x.key_id if i == 0 else x for i, x in enumerate(store.keys.issue(role, f"tests as {role}"))) for role in ROLES}  # type: ignore[misc]


STORES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=STORES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server every API test talks to, once over each store: the embedded SQLite
    store, then a PostgreSQL database (``--store``), so every API module runs on both."""
    home = tmp_path_factory.mktemp("server-home")
    bucket = tmp_path_factory.mktemp("bucket")
    database = None
    if request.param == "postgresql":
        database = request.getfixturevalue("postgres_server").new_database()
    keys = make_keys(home, database)
    clip = DATA / "people" / "face_recognition" / "examples" / "short_hamilton_clip.mp4"
    streams = ["--stream", f"door={clip}"] if clip.is_file() else []  # a file loops like a camera
    store = ["--store", database] if database else []
    proc, url, log = start_server(home, "--bucket", f"photos={bucket}", *streams, *store)
    try:
        yield Server(url, home, keys, bucket, log, database)
    finally:
        stop_server(proc)


@pytest.fixture(autouse=True)
def _server_home_not_overridden() -> None:
    """The top-level conftest points FACEPRINT_HOME at a per-test folder; the server has
    its own store, passed explicitly."""


def unique(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def lfw_images(n: int) -> list[Path]:
    """``n`` LFW photos of different people (one face each), or skip."""
    root = DATA / "lfw" / "images"
    if not root.is_dir():
        pytest.skip(f"real data not found in {DATA} (set FACEPRINT_DATA)")
    people = sorted(p for p in root.iterdir() if p.is_dir())
    return [sorted(p.glob("*.jpg"))[0] for p in people[:n]]


def lfw_pair() -> tuple[Path, Path]:
    """Two photos of the same person, or skip."""
    root = DATA / "lfw" / "images"
    if not root.is_dir():
        pytest.skip(f"real data not found in {DATA} (set FACEPRINT_DATA)")
    for person in sorted(root.iterdir()):
        photos = sorted(person.glob("*.jpg"))
        if len(photos) >= 2:
            return photos[0], photos[1]
    pytest.skip("no person with two photos")
