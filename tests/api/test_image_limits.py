"""The server's own image limits, over the wire and below it: a pixel limit smaller
than the library's (phone photos fit, posters do not), checked from the header before
a pixel is decoded, and only the image formats the README documents."""

from __future__ import annotations

import tracemalloc
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from faceprint.errors import ImageTooLarge
from tests.factories import encode

# 6000 x 5000 = 30 MP, a few KB as a one-colour PNG: over the server's 25 MP, under the library's 80
POSTER = (6000, 5000)
TINY_EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n%%EndComments\n0 setgray 0 0 8 8 rectfill\nshowpage\n%%EOF\n"


@pytest.fixture(scope="module")
def poster() -> bytes:
    return encode(Image.new("L", POSTER, 128), "PNG")


def test_a_call_refuses_an_image_over_the_server_limit_before_decoding(poster: bytes) -> None:
    from faceprint.api.operations import Call

    call = Call(service=None, params={"Image": {"Bytes": poster}}, caller=None, guard=None, buckets={})  # type: ignore[arg-type]
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLarge, match="25 MP"):
            call.image()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < POSTER[0] * POSTER[1], f"{peak / 1e6:.0f} MB allocated: the image was decoded"


def test_the_server_limit_is_configurable(poster: bytes) -> None:
    from faceprint.api.config import ServerConfig
    from faceprint.api.operations import Call

    assert 16_000_000 <= ServerConfig().max_image_pixels <= 25_000_000
    call = Call(service=None, params={"Image": {"Bytes": poster}}, caller=None, guard=None, buckets={}, max_image_pixels=31_000_000)  # type: ignore[arg-type]
    assert call.image() == poster


@pytest.mark.data
def test_detect_faces_refuses_a_poster_and_eps(server, poster: bytes) -> None:
    rek = server.client("admin", retries={"max_attempts": 1})
    with pytest.raises(ClientError) as big:
        rek.detect_faces(Image={"Bytes": poster})
    assert big.value.response["Error"]["Code"] == "ImageTooLargeException"
    assert "25 MP" in big.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as eps:
        rek.detect_faces(Image={"Bytes": TINY_EPS})
    assert eps.value.response["Error"]["Code"] == "InvalidImageFormatException"


def test_serve_takes_another_image_limit(tmp_path, poster: bytes) -> None:
    """`faceprint serve --max-image-mp` reaches the calls (ServerConfig.max_image_pixels)."""
    import boto3

    from tests.api.conftest import make_keys, start_server, stop_server

    key_id, secret = make_keys(tmp_path)["admin"]
    proc, url, _ = start_server(tmp_path, "--max-image-mp", "31")
    try:
        rek = boto3.client("rekognition", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key_id, aws_secret_access_key=secret)
        assert rek.detect_faces(Image={"Bytes": poster})["FaceDetails"] == []  # 30 MP: decoded, no face
    finally:
        stop_server(proc)
