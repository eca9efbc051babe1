"""Bad input at the edge, health, readiness, metrics, logs and TLS."""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import ssl
import urllib.request

import pytest
import urllib3

from tests.api.conftest import make_keys, start_server, stop_server
from tests.api.test_auth import HTTP, send, signed


def post(server, target: str | None, body: bytes, content_type: str = "application/x-amz-json-1.1") -> tuple[int, dict]:
    """A request signed by the admin key with a raw body."""
    request = signed(server.url, server.keys["admin"], target or "", body)
    headers = dict(request.headers.items())
    if target is None:
        headers.pop("X-Amz-Target")
    headers["Content-Type"] = content_type
    r = HTTP.request("POST", request.url, body=request.body, headers=headers)
    return r.status, json.loads(r.data)


@pytest.mark.parametrize(
    "target, body, status, code",
    [
        ("RekognitionService.ListCollections", b"{not json", 400, "SerializationException"),
        ("RekognitionService.ListCollections", b"[1, 2]", 400, "SerializationException"),
        ("RekognitionService.ListCollections", b"\xff\xfe\x00", 400, "SerializationException"),
        ("RekognitionService.ListCollections", b"[" * 100_000, 400, "SerializationException"),
        ("RekognitionService.DescribeCollection", b'{"CollectionId": 5}', 400, "InvalidParameterException"),
        ("RekognitionService.DescribeCollection", b"{}", 400, "InvalidParameterException"),
        ("RekognitionService.ListCollections", b'{"Surprise": 1}', 400, "InvalidParameterException"),
        ("RekognitionService.ListCollections", b'{"MaxResults": 1e999}', 400, "InvalidParameterException"),
        ("RekognitionService.DetectFaces", b'{"Image": {"Bytes": "@@not base64@@"}}', 400, "InvalidParameterException"),
        ("RekognitionService.DetectFaces", json.dumps({"Image": {"Bytes": base64.b64encode(b"GIF89a not really").decode()}}).encode(), 400, "InvalidImageFormatException"),
        ("RekognitionService.DetectFaces", b'{"Image": {}}', 400, "InvalidParameterException"),
        ("RekognitionService.NoSuchOperation", b"{}", 400, "UnknownOperationException"),
        ("SomeOtherService.ListCollections", b"{}", 400, "UnknownOperationException"),
        ("garbage", b"{}", 400, "UnknownOperationException"),
    ],
)
def test_bad_requests_get_aws_shaped_4xx(server, target, body, status, code):
    got_status, got = post(server, target, body)
    assert (got_status, got["__type"]) == (status, code), got
    assert got["message"]


def test_missing_target_and_wrong_content_type(server):
    r = HTTP.request("POST", server.url + "/", body=b"{}", headers={"Content-Type": "application/x-amz-json-1.1"})
    assert r.status == 400 and json.loads(r.data)["__type"] == "UnknownOperationException"
    r = HTTP.request("POST", server.url + "/", body=b"{}", headers={"Content-Type": "text/plain", "X-Amz-Target": "RekognitionService.ListCollections"})
    assert r.status == 415 and json.loads(r.data)["__type"] == "UnsupportedMediaTypeException"


def test_oversized_body_is_refused_before_it_is_read(server):
    """A 1 GB Content-Length is answered at once: the server never waits for the body."""
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=10) as s:
        s.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
            b"X-Amz-Target: RekognitionService.DetectFaces\r\nContent-Length: 1000000000\r\n\r\n" + b"{" * 1000
        )
        reply = ""
        while "ImageTooLargeException" not in reply:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk.decode(errors="replace")
    assert reply.startswith("HTTP/1.1 413") and "ImageTooLargeException" in reply
    # a streamed (chunked) body is cut off at the limit too
    status, body = post(server, "RekognitionService.ListCollections", b" " * (9 * 1024 * 1024))
    assert (status, body["__type"]) == (413, "RequestEntityTooLargeException")


def test_health_readiness_and_metrics(server):
    with urllib.request.urlopen(server.url + "/health") as r:
        assert json.load(r) == {"status": "ok"}
    with urllib.request.urlopen(server.url + "/ready") as r:
        ready = json.load(r)
    assert ready["ready"] is True and ready["model"].startswith("sface")
    assert set(ready) == {"ready", "model"}  # nothing about the store to a caller without a key
    send(signed(server.url, server.keys["admin"], "RekognitionService.ListCollections", {}))
    with urllib.request.urlopen(server.url + "/metrics") as r:
        text = r.read().decode()
    assert 'faceprint_requests_total{code="OK",operation="ListCollections"}' in text
    assert "faceprint_request_seconds_bucket" in text and "process_resident_memory_bytes" in text


def test_console_is_served_with_protective_headers(server):
    with urllib.request.urlopen(server.url + "/") as r:  # redirected to the console
        assert r.url.endswith("/console/") and b"faceprint" in r.read()
        headers = r.headers
    assert headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"
    policy = {d.strip().split(" ", 1)[0]: d.strip() for d in headers["Content-Security-Policy"].split(";")}
    assert policy["default-src"] == "default-src 'self'" and policy["frame-ancestors"] == "frame-ancestors 'none'", policy
    assert policy["object-src"] == "object-src 'none'" and headers["X-Content-Type-Options"] == "nosniff"


def test_logs_are_json_and_hold_no_secrets_or_images(server):
    photo_b64 = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"x" * 64).decode()
    send(signed(server.url, server.keys["admin"], "RekognitionService.DetectFaces", {"Image": {"Bytes": photo_b64}}))
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    assert any(e.get("operation") == "DetectFaces" and e.get("code") == "InvalidImageFormatException" for e in lines)
    text = server.log.read_text()
    for role, (_, secret) in server.keys.items():
        assert secret not in text, role
    assert photo_b64[:40] not in text


def test_tls(tmp_path):
    """--ssl-certfile/--ssl-keyfile serve HTTPS; boto3 verifies against the CA given."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    keys = make_keys(tmp_path)
    proc, url, _ = start_server(tmp_path, "--ssl-certfile", str(tmp_path / "cert.pem"), "--ssl-keyfile", str(tmp_path / "key.pem"), scheme="https")
    try:
        import boto3

        rek = boto3.client(
            "rekognition", endpoint_url=url, region_name="us-east-1", aws_access_key_id=keys["searcher"][0], aws_secret_access_key=keys["searcher"][1], verify=str(tmp_path / "cert.pem")
        )
        assert rek.list_collections()["CollectionIds"] == []
        with pytest.raises(urllib3.exceptions.MaxRetryError):
            urllib3.PoolManager(cert_reqs=ssl.CERT_REQUIRED).request("GET", url + "/health", retries=0)  # not trusted without the CA
    finally:
        stop_server(proc)
