"""Alerts and where they go: JSON lines, signed webhooks, server-sent events.

An alert is the evidence a person needs to review a match: the stream and time, the
track, the best crop of the face, the similarity and what it means (the false-match
rate), the collection, the matched face and user, and the model. Every sink has its
own bounded queue and thread, so a slow or failing receiver never holds up decoding:
what does not fit is dropped and counted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from faceprint.types import Box
from faceprint.video.urls import redact

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    """A watch-list match on a stream (JSON: :meth:`to_json`)."""

    stream: str
    timestamp_ms: float  # stream time of the decision
    first_seen_ms: float  # stream time the track began
    track_id: int
    collection: str
    face_id: str
    external_image_id: str | None
    user_id: str | None
    similarity: float
    false_match_rate: float
    model: str
    bounding_box: Box  # fractions of the frame (imaging.box_fractions)
    crop_jpeg: bytes = field(repr=False)  # the best crop (imaging.encode_jpeg)
    samples: int = 1  # frames whose embeddings the decision combined
    latency_ms: float = 0.0  # wall time from the track's first frame to this alert
    wall_time: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["crop_jpeg"] = base64.b64encode(self.crop_jpeg).decode()
        box = self.bounding_box  # Rekognition's member names, as every response
        out["bounding_box"] = {"Width": box.width, "Height": box.height, "Left": box.left, "Top": box.top}
        return {JSON_NAMES[k]: v for k, v in out.items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


# Rekognition's member names where it has one; times in milliseconds, as its video APIs.
JSON_NAMES = {
    "stream": "Stream",
    "timestamp_ms": "Timestamp",
    "first_seen_ms": "FirstSeenTimestamp",
    "track_id": "TrackId",
    "collection": "CollectionId",
    "face_id": "FaceId",
    "external_image_id": "ExternalImageId",
    "user_id": "UserId",
    "similarity": "Similarity",
    "false_match_rate": "FalseMatchRate",
    "model": "FaceModelVersion",
    "bounding_box": "BoundingBox",
    "crop_jpeg": "FaceCrop",
    "samples": "FramesCombined",
    "latency_ms": "LatencyMs",
    "wall_time": "WallTime",
}


class Sink:
    """A receiver of alerts with its own bounded queue and thread."""

    def __init__(self, name: str, capacity: int = 256) -> None:
        self.name = name
        self.queue: queue.Queue[Alert] = queue.Queue(capacity)
        self.delivered = 0
        self.dropped = 0
        self.failed = 0
        self.in_flight = 0
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"faceprint-sink-{name}", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Its thread still delivers (False once closed)."""
        return self._thread.is_alive()

    def offer(self, alert: Alert) -> None:
        """Queue an alert without ever waiting; a full queue drops it (counted)."""
        if self._closing.is_set():
            self.dropped += 1
            return
        try:
            self.queue.put_nowait(alert)
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (for up to ``timeout``), then end the thread; what is
        still queued after that is counted as dropped."""
        self._closing.set()
        self._thread.join(timeout)
        if self._thread.is_alive():  # a receiver still stuck: give up on the rest
            while True:
                try:
                    self.queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    break

    def _run(self) -> None:
        while True:
            try:
                alert = self.queue.get(timeout=0.1)
            except queue.Empty:
                if self._closing.is_set():
                    return
                continue
            self.in_flight = 1
            try:
                self.deliver(alert)
                self.delivered += 1
            except Exception as exc:  # noqa: BLE001 - a sink failing must not stop the others
                self.failed += 1
                log.warning("alert delivery failed", extra={"sink": self.name, "error": redact(str(exc))})
            finally:
                self.in_flight = 0

    def deliver(self, alert: Alert) -> None:
        raise NotImplementedError

    def stats(self) -> dict[str, int]:
        return {"delivered": self.delivered, "dropped": self.dropped, "failed": self.failed, "queued": self.queue.qsize(), "in_flight": self.in_flight}


class MemorySink(Sink):
    """Every alert, kept in a list (a search's or a test's few alerts; never a live
    stream's, which never ends)."""

    def __init__(self, name: str = "memory", capacity: int = 100_000) -> None:
        self.alerts: list[Alert] = []
        super().__init__(name, capacity=capacity)

    def deliver(self, alert: Alert) -> None:
        self.alerts.append(alert)


class JsonLinesSink(Sink):
    """One JSON object per line (stdout by default)."""

    def __init__(self, out: IO[str], *, with_crop: bool = True) -> None:
        self.out, self.with_crop = out, with_crop
        super().__init__("jsonl")

    def deliver(self, alert: Alert) -> None:
        data = alert.to_dict()
        if not self.with_crop:
            data.pop("FaceCrop", None)
        self.out.write(json.dumps(data, separators=(",", ":")) + "\n")
        self.out.flush()


class WebhookSink(Sink):
    """POST each alert as JSON, signed: ``X-Faceprint-Signature: sha256=<hex HMAC of
    timestamp.body>`` with ``X-Faceprint-Timestamp``, so the receiver can check both
    origin and freshness. Failed posts are retried with exponential backoff (0.5 s
    doubling, 5 attempts); the queue bounds what waits meanwhile. A user and password in
    the URL are sent as HTTP basic authentication; the URL is never logged with them or
    with its query."""

    def __init__(self, url: str, secret: str, *, attempts: int = 5, timeout: float = 5.0, capacity: int = 256) -> None:
        parts = urllib.parse.urlsplit(url)
        self.auth: dict[str, str] = {}
        if parts.username is not None:  # urllib would take user:password@ for part of the host
            user_password = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            self.auth = {"Authorization": "Basic " + base64.b64encode(user_password.encode()).decode()}
            parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
        self.url, self.secret, self.attempts, self.timeout = urllib.parse.urlunsplit(parts), secret.encode(), attempts, timeout
        self.shown = redact(url)
        self.retries = 0
        super().__init__(f"webhook:{parts.netloc}", capacity)

    def deliver(self, alert: Alert) -> None:
        body = alert.to_json().encode()
        delay = 0.5
        for attempt in range(1, self.attempts + 1):
            stamp = str(int(time.time()))
            signature = hmac.new(self.secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            request = urllib.request.Request(
                self.url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "X-Faceprint-Timestamp": stamp, "X-Faceprint-Signature": f"sha256={signature}", **self.auth},
            )
            try:
                with _NO_REDIRECTS.open(request, timeout=self.timeout) as response:
                    if response.status < 300:
                        return
            except (urllib.error.URLError, OSError, ValueError) as exc:
                if attempt == self.attempts:
                    raise RuntimeError(f"webhook {self.shown} failed {attempt} times: {redact(str(exc))}") from None
            self.retries += 1
            time.sleep(delay)
            delay *= 2
        raise RuntimeError(f"webhook {self.shown} did not accept the alert")

    def stats(self) -> dict[str, int]:
        return {**super().stats(), "retries": self.retries}


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A receiver's redirect is not followed: it could lead to a host the webhook rules
    forbid (a metadata address, an unlisted http host), with the alert, its signature and
    the URL's credentials. The delivery fails instead, and the failure is counted."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)


class Broadcast(Sink):
    """Fan-out to live subscribers (the API's server-sent events). A subscriber that
    does not keep up loses alerts, counted, rather than slowing the others."""

    def __init__(self) -> None:
        self._subscribers: list[queue.Queue[Alert]] = []
        self._lock = threading.Lock()
        super().__init__("broadcast")

    def subscribe(self, capacity: int = 64) -> queue.Queue[Alert]:
        q: queue.Queue[Alert] = queue.Queue(capacity)
        with self._lock:
            self._subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.Queue[Alert]) -> None:
        with self._lock:
            if q in self._subscribers:
                self._subscribers.remove(q)

    def deliver(self, alert: Alert) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for q in subscribers:
            try:
                q.put_nowait(alert)
            except queue.Full:
                self.dropped += 1
