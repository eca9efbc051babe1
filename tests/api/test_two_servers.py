"""Two faceprint servers on different ports over one PostgreSQL database behave as one
system: what one indexes the other finds, a signature used on one is refused on the
other, and a key's rate is counted across both.

Both run as users start them: ``faceprint serve --store postgresql://...`` with the same
``FACEPRINT_KEY`` and their own folders, as on two machines."""

from __future__ import annotations

import os
import time
from unittest import mock
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest

from tests.api.conftest import DATA, Server, lfw_images, make_keys, start_server, stop_server, unique
from tests.api.test_gate_hardening import _open_events, _read_to_end
from tests.api.test_video_api import _events
from tests.api.test_auth import send, signed


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory, postgres_server) -> Iterator[tuple[Server, Server]]:
    url = postgres_server.new_database()
    env = {"FACEPRINT_STORE": url, "FACEPRINT_KEY": os.urandom(32).hex()}
    homes = [tmp_path_factory.mktemp("server-a"), tmp_path_factory.mktemp("server-b")]
    with mock.patch.dict(os.environ, env):  # make_keys opens the store as the servers will
        keys = make_keys(homes[0], database=url)
    clip = DATA / "people" / "face_recognition" / "examples" / "short_hamilton_clip.mp4"
    procs = []
    try:
        servers = []
        for i, home in enumerate(homes):
            # only the first server can open the camera: its processors run there
            streams = ["--stream", f"door={clip}"] if i == 0 and clip.is_file() else []
            proc, base, log = start_server(home, "--rate-limit", "2", *streams, env=env)
            procs.append(proc)
            servers.append(Server(base, home, keys, home, log, url))
        yield servers[0], servers[1]
    finally:
        for proc in procs:
            stop_server(proc)
        postgres_server.drop_database(url)


def test_a_face_indexed_through_one_is_found_through_the_other(two_servers):
    a, b = two_servers
    photo, other = lfw_images(2)
    name = unique("shared")
    a.client("admin").create_collection(CollectionId=name, Tags={"faceprint:purpose": "two servers", "faceprint:consent-required": "false"})
    indexed = a.client("indexer").index_faces(CollectionId=name, Image={"Bytes": Path(photo).read_bytes()}, ExternalImageId="first")
    face_id = indexed["FaceRecords"][0]["Face"]["FaceId"]
    found = b.client("searcher").search_faces_by_image(CollectionId=name, Image={"Bytes": Path(photo).read_bytes()})
    assert [m["Face"]["FaceId"] for m in found["FaceMatches"]] == [face_id]
    assert b.client("admin").describe_collection(CollectionId=name)["FaceCount"] == 1
    b.client("admin").delete_faces(CollectionId=name, FaceIds=[face_id])
    gone = a.client("searcher").search_faces_by_image(CollectionId=name, Image={"Bytes": Path(photo).read_bytes()})
    assert gone["FaceMatches"] == []


def test_a_signature_used_on_one_is_refused_on_the_other(two_servers):
    a, b = two_servers
    """Behind one load balancer both servers answer to one host name: the copy sent to
    the second server carries the Host it was signed for."""
    request = signed(a.url, a.keys["admin"], "RekognitionService.ListCollections", {})
    request.headers["Host"] = urlsplit(a.url).netloc
    assert send(request)[0] == 200
    request.url = b.url + "/"
    status, body = send(request)
    assert (status, body["__type"]) == (403, "InvalidSignatureException") and "replay" in body["message"]


def test_a_keys_rate_is_counted_across_both(two_servers):
    """Both servers allow 2 requests a second per key, in bursts of 4. Calls sent to
    them in turn must be throttled once the key's one bucket is empty: if each server
    kept its own, twice as many would pass."""
    a, b = two_servers
    key = a.keys["searcher"]
    answers = []
    started = time.monotonic()
    for i in range(16):
        server = a if i % 2 == 0 else b
        # bodies differ: identical requests signed in one second would be refused as duplicates
        answers.append(send(signed(server.url, key, "RekognitionService.ListCollections", {"MaxResults": i + 1}))[1].get("__type", "ok"))
    elapsed = time.monotonic() - started
    assert "ThrottlingException" in answers
    assert answers.count("ok") <= 4 + 2 * elapsed + 1, (answers.count("ok"), elapsed)


def test_an_alert_from_a_stream_run_by_one_reaches_a_subscriber_of_the_other(two_servers):
    """The camera is configured on the first server only, so the processor runs there;
    a subscriber connected to the second hears its alerts, and a stop sent to the
    second stops it on the first."""
    a, b = two_servers
    examples = DATA / "people" / "face_recognition" / "examples"
    if not (examples / "short_hamilton_clip.mp4").is_file():
        pytest.skip(f"the hamilton clip is not in {examples}")
    admin_a, admin_b = a.client("admin"), b.client("admin")
    watch, name = unique("watch"), unique("door")
    admin_a.create_collection(CollectionId=watch, Tags={"faceprint:consent-required": "false", "faceprint:purpose": "two servers"})
    admin_a.index_faces(CollectionId=watch, Image={"Bytes": (examples / "lin-manuel-miranda.png").read_bytes()}, ExternalImageId="lin-manuel-miranda")
    admin_a.create_stream_processor(
        Name=name,
        Input={"KinesisVideoStream": {"Arn": "arn:aws:kinesisvideo:local:000000000000:stream/door/1"}},
        Output={"KinesisDataStream": {"Arn": "arn:aws:kinesis:local:000000000000:stream/alerts"}},
        Settings={"FaceSearch": {"CollectionId": watch, "FaceMatchThreshold": 50}},
        RoleArn="arn:aws:iam::000000000000:role/faceprint",
    )
    admin_a.start_stream_processor(Name=name)
    try:
        assert admin_b.describe_stream_processor(Name=name)["Status"] == "RUNNING"
        alerts = _events(b, name, seconds=60)  # the clip loops: Lin-Manuel comes back
        assert alerts and alerts[0]["ExternalImageId"] == "lin-manuel-miranda"
        following = _open_events(b, b.keys["searcher"], name)
    finally:
        admin_b.stop_stream_processor(Name=name)
    # the first server stops its watcher within its next lease renewal and announces the
    # end, which closes the stream followed on the second
    _read_to_end(following)
    assert admin_a.describe_stream_processor(Name=name)["Status"] == "STOPPED"


def test_a_processor_whose_server_dies_is_adopted_by_another(tmp_path_factory, postgres_server):
    """Both servers can open the camera; the one running the processor is killed (no
    clean shutdown); the other adopts the processor once its lease runs out."""
    from faceprint.store import Store
    from faceprint.video.processors import HEARTBEAT_S, LEASE_S

    clip = DATA / "people" / "face_recognition" / "examples" / "short_hamilton_clip.mp4"
    if not clip.is_file():
        pytest.skip(f"the hamilton clip is not in {clip.parent}")
    url = postgres_server.new_database()
    env = {"FACEPRINT_STORE": url, "FACEPRINT_KEY": os.urandom(32).hex()}
    homes = [tmp_path_factory.mktemp("dies"), tmp_path_factory.mktemp("adopts")]
    procs = []
    environment = mock.patch.dict(os.environ, env)  # the test reads the store as the servers do
    environment.start()
    try:
        keys = make_keys(homes[0], database=url)
        for home in homes:
            proc, base, log = start_server(home, "--stream", f"door={clip}", env=env)
            procs.append((proc, Server(base, home, keys, home, log, url)))
        (dying, first), (_, second) = procs
        admin = first.client("admin")
        watch, name = unique("watch"), unique("door")
        admin.create_collection(CollectionId=watch, Tags={"faceprint:consent-required": "false"})
        admin.create_stream_processor(
            Name=name,
            Input={"KinesisVideoStream": {"Arn": "arn:aws:kinesisvideo:local:000000000000:stream/door/1"}},
            Output={"KinesisDataStream": {"Arn": "arn:aws:kinesis:local:000000000000:stream/alerts"}},
            Settings={"FaceSearch": {"CollectionId": watch}},
            RoleArn="arn:aws:iam::000000000000:role/faceprint",
        )
        admin.start_stream_processor(Name=name)
        with Store(homes[0], database=url) as store:
            runner = store.jobs.processor(name).params["Runner"]["Id"]
        dying.kill()
        dying.wait()
        killed = time.monotonic()
        adopted = None
        while time.monotonic() - killed < LEASE_S + 3 * HEARTBEAT_S + 10:
            with Store(homes[1], database=url) as store:
                record = store.jobs.processor(name)
            if record.params["Runner"]["Id"] != runner:
                adopted = time.monotonic() - killed
                break
            time.sleep(1.0)
        assert adopted is not None, "no server adopted the processor"
        print(f"adopted {adopted:.1f} s after its server was killed")  # shown with pytest -s
        assert record.status == "RUNNING" and second.client("admin").describe_stream_processor(Name=name)["Status"] == "RUNNING"
        second.client("admin").stop_stream_processor(Name=name)
    finally:
        for proc, _ in procs:
            stop_server(proc)
        environment.stop()
        postgres_server.drop_database(url)


def test_one_server_of_two_processes_behaves_as_one(tmp_path_factory, postgres_server):
    """``faceprint serve --processes 2``: two worker processes on one port, each with its
    own models, sharing the rest through the server store."""
    import psutil

    url = postgres_server.new_database()
    env = {"FACEPRINT_STORE": url, "FACEPRINT_KEY": os.urandom(32).hex()}
    home = tmp_path_factory.mktemp("processes")
    proc = None
    try:
        with mock.patch.dict(os.environ, env):
            keys = make_keys(home, database=url)
        proc, base, log = start_server(home, "--processes", "2", env=env)
        workers = [c for c in psutil.Process(proc.pid).children(recursive=True) if "python" in c.name().lower()]
        assert len(workers) >= 2, [c.cmdline()[:3] for c in workers]
        server = Server(base, home, keys, home, log, url)
        photo = lfw_images(1)[0]
        name = unique("procs")
        server.client("admin").create_collection(CollectionId=name, Tags={"faceprint:consent-required": "false"})
        face = server.client("indexer").index_faces(CollectionId=name, Image={"Bytes": photo.read_bytes()})["FaceRecords"][0]["Face"]["FaceId"]
        for _ in range(8):  # a new client, a new connection: the kernel spreads them over the processes
            found = server.client("searcher").search_faces_by_image(CollectionId=name, Image={"Bytes": photo.read_bytes()})
            assert [m["Face"]["FaceId"] for m in found["FaceMatches"]] == [face]
        request = signed(base, keys["admin"], "RekognitionService.ListCollections", {})
        assert send(request)[0] == 200
        status, body = send(request)  # whichever process gets the copy refuses it
        assert (status, body["__type"]) == (403, "InvalidSignatureException")
    finally:
        if proc is not None:
            stop_server(proc)
        postgres_server.drop_database(url)


def test_several_processes_need_the_server_store(tmp_path):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "FACEPRINT_STORE"}
    done = subprocess.run([sys.executable, "-m", "faceprint.cli.main", "serve", "--processes", "2", "--data", str(tmp_path)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--processes needs the server store" in done.stderr


def test_a_database_lost_mid_request_is_retryable_and_the_server_recovers(two_servers):
    """The database drops every connection of a server (a restart, a failover): the call
    it was serving gets ServiceUnavailableException, which SDKs retry, and the next one
    is served on a new connection."""
    import psycopg
    from botocore.exceptions import ClientError

    a, _ = two_servers
    name = unique("lost")
    admin = a.client("admin")
    admin.create_collection(CollectionId=name, Tags={"faceprint:consent-required": "false"})
    with psycopg.connect(a.database, autocommit=True) as c:
        database = c.execute("SELECT current_database()").fetchone()[0]
        c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname=%s AND pid <> pg_backend_pid()", (database,))
    once = a.client("admin", retries={"max_attempts": 1})
    answers = []
    while len(answers) < 5 and answers[-1:] != ["ok"]:  # its connections (store, request log) are found broken one by one
        try:
            once.describe_collection(CollectionId=name)
            answers.append("ok")
        except ClientError as exc:
            answers.append(exc.response["Error"]["Code"])
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] >= 500
    assert "ServiceUnavailableException" in answers and set(answers) <= {"ok", "ServiceUnavailableException"} and answers[-1] == "ok", answers
    assert admin.describe_collection(CollectionId=name)["FaceCount"] == 0  # with the SDK's retries: served


def test_a_processor_started_through_a_server_without_its_stream_runs_where_the_stream_is(two_servers):
    """Any server takes CreateStreamProcessor and StartStreamProcessor: the second has no
    camera, so the processor waits as STARTING until the first, which has it, adopts it."""
    a, b = two_servers
    examples = DATA / "people" / "face_recognition" / "examples"
    if not (examples / "short_hamilton_clip.mp4").is_file():
        pytest.skip(f"the hamilton clip is not in {examples}")
    admin_b = b.client("admin")
    watch, name = unique("watch"), unique("door")
    admin_b.create_collection(CollectionId=watch, Tags={"faceprint:consent-required": "false"})
    admin_b.index_faces(CollectionId=watch, Image={"Bytes": (examples / "lin-manuel-miranda.png").read_bytes()}, ExternalImageId="lin-manuel-miranda")
    admin_b.create_stream_processor(
        Name=name,
        Input={"KinesisVideoStream": {"Arn": "arn:aws:kinesisvideo:local:000000000000:stream/door/1"}},
        Output={"KinesisDataStream": {"Arn": "arn:aws:kinesis:local:000000000000:stream/alerts"}},
        Settings={"FaceSearch": {"CollectionId": watch, "FaceMatchThreshold": 50}},
        RoleArn="arn:aws:iam::000000000000:role/faceprint",
    )
    admin_b.start_stream_processor(Name=name)
    try:
        assert admin_b.describe_stream_processor(Name=name)["Status"] in ("STARTING", "RUNNING")
        deadline = time.time() + 20
        while admin_b.describe_stream_processor(Name=name)["Status"] != "RUNNING" and time.time() < deadline:
            time.sleep(0.5)
        assert admin_b.describe_stream_processor(Name=name)["Status"] == "RUNNING"
        alerts = _events(b, name, seconds=60)
        assert alerts and alerts[0]["ExternalImageId"] == "lin-manuel-miranda"
    finally:
        admin_b.stop_stream_processor(Name=name)
