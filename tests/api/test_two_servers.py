"""Two faceprint servers on different ports over one PostgreSQL database behave as one
system: what one indexes the other finds, a signature used on one is refused on the
other, and a key's rate is counted across both.

Both run as users start them: ``faceprint serve --store postgresql://...`` with the same
``FACEPRINT_KEY`` and their own folders, as on two machines."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest

from tests.api.conftest import Server, lfw_images, make_keys, start_server, stop_server, unique
from tests.api.test_auth import send, signed


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory, postgres_server) -> Iterator[tuple[Server, Server]]:
    url = postgres_server.new_database()
    env = {"FACEPRINT_STORE": url, "FACEPRINT_KEY": os.urandom(32).hex()}
    homes = [tmp_path_factory.mktemp("server-a"), tmp_path_factory.mktemp("server-b")]
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # make_keys opens the store as the servers will
    try:
        keys = make_keys(homes[0], database=url)
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    procs = []
    try:
        servers = []
        for home in homes:
            proc, base, log = start_server(home, "--rate-limit", "2", env=env)
            procs.append(proc)
            servers.append(Server(base, home, keys, home, log))
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
