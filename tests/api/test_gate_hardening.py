"""The edge against hostile and merely unlucky callers, over real sockets: retries of
throttled calls, bodies and headers that never finish, too many connections, and alert
streams that outlive their key."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Iterator

import pytest
import urllib3
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.api.conftest import DATA, Server, make_keys, start_server, stop_server, unique
from tests.api.test_auth import signed

# Far longer than any deadline the tight server is given: these tests wait for the server
# to act, they do not time it.
GENEROUS_S = 30.0


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with a tiny rate limit, short read deadlines and few connections."""
    home = tmp_path_factory.mktemp("tight-home")
    keys = make_keys(home)
    proc, url, log = start_server(home, "--rate-limit", "2", "--header-timeout", "1", "--body-timeout", "2", "--max-connections", "8")
    try:
        yield Server(url, home, keys, home, log)
    finally:
        stop_server(proc)


def _connect(url: str) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=GENEROUS_S)
    s.settimeout(GENEROUS_S)
    return s


def _until_closed(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a timeout fails the test)."""
    received = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


# -- retries are not replays -------------------------------------------------------
def test_sdk_retries_of_throttled_calls_never_fail_as_replays(tight):
    """Four threads share one boto3 client with its standard retries against a server
    allowing 2 calls a second: many calls are throttled and retried (same invocation id,
    often in the same second, so the same signature); none may be answered as a replay."""
    rek = tight.client("searcher", retries={"mode": "standard", "max_attempts": 10})
    outcomes: Counter[str] = Counter()
    retried = Counter[str]()
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            try:
                response = rek.list_collections()
                code = "OK"
                attempts = response["ResponseMetadata"]["RetryAttempts"]
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                attempts = exc.response["ResponseMetadata"].get("RetryAttempts", 0)
            with lock:
                outcomes[code] += 1
                retried["calls retried"] += attempts > 0

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert retried["calls retried"] > 0, "the rate limit never throttled: the test shows nothing"
    signature_errors = {code: n for code, n in outcomes.items() if "Signature" in code}
    assert not signature_errors, outcomes


# -- nothing is read for a caller the server does not know ---------------------------
def _upload_head(target: str, length: int, headers: dict[str, str]) -> bytes:
    lines = [f"POST / HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/x-amz-json-1.1", f"X-Amz-Target: {target}", f"Content-Length: {length}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _claim(key_id: str, at: dt.datetime) -> dict[str, str]:
    date = at.strftime("%Y%m%dT%H%M%SZ")
    return {
        "X-Amz-Date": date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key_id}/{date[:8]}/us-east-1/rekognition/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={'0' * 64}",
    }


@pytest.mark.parametrize(
    "who, code",
    [
        ("unsigned", "MissingAuthenticationTokenException"),
        ("unknown key", "UnrecognizedClientException"),
        ("expired date", "InvalidSignatureException"),
    ],
)
def test_an_unauthenticated_upload_is_refused_before_its_body_is_read(server, who, code):
    """An 8 MB IndexFaces body from a caller the server cannot accept: the answer comes
    while the client has sent only the first 64 KB, and the connection is closed."""
    now = dt.datetime.now(dt.timezone.utc)
    headers = {
        "unsigned": {},
        "unknown key": _claim("FPAKNOSUCHKEY0000000", now),
        "expired date": _claim(server.keys["admin"][0], now - dt.timedelta(hours=1)),
    }[who]
    with _connect(server.url) as s:
        s.sendall(_upload_head("RekognitionService.IndexFaces", 8_000_000, headers) + b'{"CollectionId": "x", "Image": {"Bytes": "' + b"A" * 65536)
        reply = _until_closed(s).decode(errors="replace")
    assert reply.startswith("HTTP/1.1 403") and code in reply, reply[:500]


# -- read deadlines and the connection limit --------------------------------------
def test_a_stalled_header_block_is_closed(tight):
    with _connect(tight.url) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n")  # and never the blank line
        assert _until_closed(s) == b""
    with _connect(tight.url) as s:  # a connection that never says anything
        assert _until_closed(s) == b""
    with _connect(tight.url) as s:  # after a first request on a kept-alive connection, the next head is held to it too
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /health HTTP/1.1\r\nHost: 12")
        reply = _until_closed(s)
    assert reply.startswith(b"HTTP/1.1 200") and reply.count(b"HTTP/1.1") == 1


def test_an_oversized_header_block_is_refused(tight):
    with _connect(tight.url) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 40_000 + b"\r\n\r\n")
        assert _until_closed(s).startswith(b"HTTP/1.1 400")
    with _connect(tight.url) as s:  # one header that never ends: the parser never hands it over
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 40_000)
        assert _until_closed(s).startswith(b"HTTP/1.1 431")
    with _connect(tight.url) as s:  # headers of an ordinary size are served
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 4_000 + b"\r\nConnection: close\r\n\r\n")
        assert _until_closed(s).startswith(b"HTTP/1.1 200")


def test_a_stalled_body_is_cut_at_the_deadline(tight):
    """A signed caller that stops sending its body is answered RequestTimeoutException
    and disconnected, instead of holding a connection and a buffer."""
    request = signed(tight.url, tight.keys["admin"], "RekognitionService.ListCollections", b" " * 1000)
    head = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items() if k.lower() != "content-length")
    with _connect(tight.url) as s:
        s.sendall(f"POST / HTTP/1.1\r\n{head}Content-Length: 1000\r\n\r\n".encode() + b" " * 10)
        reply = _until_closed(s).decode(errors="replace")
    assert reply.startswith("HTTP/1.1 408") and "RequestTimeoutException" in reply, reply[:500]


def test_connections_over_the_limit_are_refused(tight):
    idle = [_connect(tight.url) for _ in range(8)]
    try:
        with _connect(tight.url) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert _until_closed(s).startswith(b"HTTP/1.1 503")
    finally:
        for s in idle:
            s.close()
    deadline = time.time() + GENEROUS_S
    while True:  # the server notices the closed connections
        with _connect(tight.url) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            if _until_closed(s).startswith(b"HTTP/1.1 200"):
                break
        assert time.time() < deadline, "the server still refuses connections after the idle ones closed"
        time.sleep(0.2)


# -- revocation reaches open alert streams ---------------------------------------------
def _open_events(server: Server, key: tuple[str, str], name: str) -> urllib3.BaseHTTPResponse:
    request = signed(server.url, key, "FaceprintService.StreamProcessorEvents", {"Name": name}, service="faceprint")
    r = urllib3.PoolManager().request(
        "POST", request.url, body=request.body, headers=dict(request.headers.items()), preload_content=False, timeout=urllib3.Timeout(connect=5, read=GENEROUS_S)
    )
    assert r.status == 200, r.data
    assert r.read1(65536).startswith(b": faceprint alerts")
    return r


def _read_to_end(r: urllib3.BaseHTTPResponse) -> None:
    """Returns once the server ends the stream (its keep-alive comments every 15 s would
    keep a read timeout from ever firing, so the wait is bounded here)."""
    deadline = time.time() + GENEROUS_S
    while r.read1(65536):
        assert time.time() < deadline, "the alert stream of a revoked key is still open"


@pytest.mark.data
def test_revoking_a_key_ends_its_alert_streams(server):
    clip = DATA / "people" / "face_recognition" / "examples" / "short_hamilton_clip.mp4"
    if not clip.is_file():
        pytest.skip(f"the hamilton clip is not in {clip.parent}")
    admin, fp = server.client("admin"), server.client("admin", service="faceprint")
    collection, name = unique("revoke"), unique("door")
    admin.create_collection(CollectionId=collection, Tags={"faceprint:consent-required": "false"})
    admin.create_stream_processor(
        Name=name,
        Input={"KinesisVideoStream": {"Arn": "arn:aws:kinesisvideo:local:000000000000:stream/door/1"}},
        Output={"KinesisDataStream": {"Arn": "arn:aws:kinesis:local:000000000000:stream/alerts"}},
        Settings={"FaceSearch": {"CollectionId": collection}},
        RoleArn="arn:aws:iam::000000000000:role/faceprint",
    )
    admin.start_stream_processor(Name=name)
    try:
        by_api = fp.create_access_key(Role="searcher", Purpose="revocation of streams, API")
        by_cli = fp.create_access_key(Role="searcher", Purpose="revocation of streams, CLI")
        api_stream = _open_events(server, (by_api["AccessKeyId"], by_api["SecretAccessKey"]), name)
        cli_stream = _open_events(server, (by_cli["AccessKeyId"], by_cli["SecretAccessKey"]), name)
        fp.revoke_access_key(AccessKeyId=by_api["AccessKeyId"])
        _read_to_end(api_stream)
        subprocess.run([sys.executable, "-m", "faceprint.cli.main", "keys", "revoke", by_cli["AccessKeyId"], "--home", str(server.home)], check=True, capture_output=True, env=server.cli_env())
        _read_to_end(cli_stream)  # within the server's key cache window
        _open_events(server, server.keys["searcher"], name).close()  # other keys still subscribe
    finally:
        admin.stop_stream_processor(Name=name)
        admin.delete_stream_processor(Name=name)


def test_invocation_ids_are_bounded_on_the_wire(server):
    request = signed(server.url, server.keys["searcher"], "RekognitionService.ListCollections", {}, invocation="x" * 4096)
    r = urllib3.PoolManager().request("POST", request.url, body=request.body, headers=dict(request.headers.items()))
    body = json.loads(r.data)
    assert (r.status, body["__type"]) == (400, "InvalidParameterException") and "amz-sdk-invocation-id" in body["message"]
