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
