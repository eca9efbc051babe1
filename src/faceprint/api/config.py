"""Settings of one server process."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from faceprint.api.guard import RateLimit
from faceprint.api.images import MAX_IMAGE_PIXELS

# Rekognition takes 5 MB of image bytes inline; base64 makes that 6.7 MB of JSON.
DEFAULT_MAX_BODY = 8 * 1024 * 1024


@dataclass
class ServerConfig:
    """Args:
    home: the store folder (default ``$FACEPRINT_HOME`` or ``~/.faceprint``).
    mode: the engine mode, ``fast`` or ``accurate``.
    buckets: bucket name -> local folder, for ``S3Object`` images and videos.
    streams: stream name -> video source, for stream processors' inputs.
    max_body_bytes: larger requests are refused before they are read.
    workers: inference threads (default: one per core).
    max_pending: calls waiting for a worker beyond this are refused with
        ThrottlingException rather than queued without bound.
    rate: each access key's request rate limit.
    max_image_pixels: larger images (width x height, read from the header) are refused
        before they are decoded; the library's own limit is 80 MP.
    max_connections: open connections at once; a request beyond it is answered 503
        (uvicorn's ``limit_concurrency``). Alert streams hold one each.
    header_timeout_s: a connection whose request line and headers have not all
        arrived this long after it opened (or after its previous response) is closed.
    body_timeout_s: a body not received whole this long after its headers is
        answered RequestTimeoutException (408) and the connection closed.
    webhook_http_hosts: hosts stream processors' alert webhooks may reach over plain
        ``http``; any other webhook must be ``https``.
    """

    home: Path | None = None
    mode: str = "fast"
    buckets: dict[str, Path] = field(default_factory=dict)
    streams: dict[str, str] = field(default_factory=dict)  # name -> file, URL or camera
    max_body_bytes: int = DEFAULT_MAX_BODY
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_pending: int = 256
    rate: RateLimit = field(default_factory=RateLimit)
    max_image_pixels: int = MAX_IMAGE_PIXELS
    max_connections: int = 1000
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    webhook_http_hosts: tuple[str, ...] = ()
