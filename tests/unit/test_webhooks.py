"""Where alerts may be sent, and URLs that hold secrets kept out of logs and errors."""

from __future__ import annotations

from faceprint.matching import FaceBar

import json
import logging
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from faceprint.errors import InvalidParameter
from faceprint.store import Store
from faceprint.types import Box
from faceprint.video.alerts import Alert, WebhookSink
from faceprint.video.processors import WEBHOOK_TAG, StreamProcessors
from faceprint.video.sources import VideoSource

SECRETS = ("hunter2", "s3cr3t")


def _processors(tmp_path: Path, **kwargs: object) -> StreamProcessors:
    store = Store(tmp_path)
    store.collections.create("watch", purpose="unit tests", model="m")
    (tmp_path / "door.mp4").write_bytes(b"not a video")  # never opened: the webhook is refused first
    return StreamProcessors(SimpleNamespace(store=store, engine=None), {"door": str(tmp_path / "door.mp4")}, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata over plain http
        "http://127.0.0.1:6379/",  # a local service
        "http://alerts.internal/hook",  # http to a host the operator did not list
        "ftp://soc.example/alerts",
        "file:///etc/passwd",
        "gopher://127.0.0.1:25/",
        "https:///no-host",
        "https://user:hunter2@",
    ],
)
def test_webhook_urls_are_https_or_http_to_listed_hosts(tmp_path, monkeypatch, url):
    monkeypatch.setenv("FACEPRINT_WEBHOOK_SECRET", "k")
    processors = _processors(tmp_path, webhook_http_hosts=["soc.example"])
    arn = "arn:aws:kinesisvideo:local:000000000000:stream/door/1"
    with pytest.raises(InvalidParameter) as exc:
        processors.create("p", arn, "watch", None, {WEBHOOK_TAG: url})
    assert "hunter2" not in exc.value.message
    processors.create("https", arn, "watch", None, {WEBHOOK_TAG: "https://soc.example/alerts"})
    processors.create("listed", arn, "watch", None, {WEBHOOK_TAG: "http://SOC.example:8080/alerts"})


def test_a_stored_webhook_is_checked_again_when_it_starts(tmp_path, monkeypatch):
    """A processor stored before the rule (or by another path) does not start with it."""
    monkeypatch.setenv("FACEPRINT_WEBHOOK_SECRET", "k")
    processors = _processors(tmp_path)
    processors.service.store.jobs.create_processor(
        "old", {"Stream": "door", "StreamArn": "arn", "CollectionId": "watch", "FaceMatchThreshold": 40.0, "Tags": {WEBHOOK_TAG: "http://127.0.0.1:6379/"}}
    )
    with pytest.raises(InvalidParameter):
        processors.start("old")
    assert not processors.names() or dict(processors.names())["old"] != "RUNNING"


def _alert() -> Alert:
    return Alert("door", 0.0, 0.0, 1, "watch", "f", None, None, 99.0, 1e-6, "m", Box(0.0, 0.0, 1.0, 1.0), b"")


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(json.dumps({**vars(r), "message": r.getMessage()}, default=str) for r in caplog.records)


def test_webhook_credentials_stay_out_of_logs(caplog):
    caplog.set_level(logging.WARNING)
    sink = WebhookSink("https://alice:hunter2@127.0.0.1:9/hook?token=s3cr3t", "k", attempts=1, timeout=1.0)
    sink.offer(_alert())
    sink.close()
    assert sink.failed == 1
    logged = _logged(caplog)
    assert "alert delivery failed" in logged and "127.0.0.1:9/hook" in logged
    for secret in SECRETS:
        assert secret not in logged and secret not in sink.name


def test_stream_credentials_stay_out_of_logs_and_errors(caplog):
    caplog.set_level(logging.WARNING)
    url = "rtsp://alice:hunter2@127.0.0.1:9/live?token=s3cr3t"
    with pytest.raises(InvalidParameter) as exc:
        list(VideoSource(url, reconnect=False).frames())
    assert "127.0.0.1:9/live" in exc.value.message
    source = VideoSource(url, reconnect=True)
    reading = threading.Thread(target=lambda: list(source.frames()), daemon=True)
    reading.start()
    deadline = time.time() + 30
    while not source.stats.errors and time.time() < deadline:
        time.sleep(0.05)
    source.stop()
    reading.join(10)
    logged = _logged(caplog)
    assert "reconnecting" in logged
    for secret in SECRETS:
        assert secret not in exc.value.message and secret not in logged and secret not in " ".join(source.stats.errors)


def test_a_watcher_named_after_its_camera_names_it_without_secrets():
    """The name goes into every alert (to webhooks, stdout) and log line."""
    from faceprint.video.watcher import Watcher, WatchSettings

    engine = SimpleNamespace(bar=lambda similarity: FaceBar.fixed(0.5), analyzer=SimpleNamespace(embedder=SimpleNamespace(contract="m")))
    store = SimpleNamespace(collections=SimpleNamespace(model=lambda name: "m"))
    watcher = Watcher(SimpleNamespace(engine=engine, store=store), VideoSource("rtsp://alice:hunter2@cam/live?token=s3cr3t"), WatchSettings("c"))  # type: ignore[arg-type]
    assert "cam/live" in watcher.name
    for secret in SECRETS:
        assert secret not in watcher.name


def test_log_lines_redact_urls_whoever_logs_them():
    from faceprint.api.logs import JsonFormatter

    record = logging.makeLogRecord({"msg": "opening %s", "args": ("rtsp://alice:hunter2@cam/live",), "levelname": "INFO", "name": "x"})
    record.source = "https://soc.example/hook?token=s3cr3t"
    line = JsonFormatter().format(record)
    assert "cam/live" in line and "soc.example/hook" in line
    for secret in SECRETS:
        assert secret not in line


def test_passwords_with_at_signs_and_quotes_are_redacted_whole():
    from faceprint.video.urls import redact

    for url in ("rtsp://admin:p@ss@cam/live", "rtsp://admin:pa'ss@cam/live", 'rtsp://admin:pa"ss@cam/live'):
        shown = redact(f"cannot open {url}: refused")
        assert "ss@cam" not in shown and "pa" not in shown and "rtsp://***@cam/live" in shown, shown


def test_a_webhook_receivers_redirect_is_not_followed():
    """A 302 from an allowed receiver must not lead the server to another host (a
    metadata address, an unlisted http host) with the alert and the URL's credentials."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[tuple[str, str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append((self.command, self.path, self.headers.get("Authorization")))
            if self.path == "/hook":
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sink = WebhookSink(f"http://alice:hunter2@127.0.0.1:{server.server_address[1]}/hook", "k", attempts=1, timeout=2.0)
        sink.offer(_alert())
        sink.close()
    finally:
        server.shutdown()
    assert [path for _, path, _ in seen] == ["/hook"] and sink.failed == 1
