"""The video layer when things go wrong: signed webhooks that fail or stall, damaged
files, streams that drop, and watchers started and stopped many times.

Everything runs locally: webhook receivers and the "live" stream are http.server
instances on 127.0.0.1, the stream is the Hamilton clip remuxed to MPEG-TS.
"""

from __future__ import annotations

import base64
import ctypes
import gc
import hashlib
import hmac
import http.server
import io
import json
import os
import random
import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import av
import cv2
import numpy as np
import pytest

import faceprint as fp
from faceprint.types import Box
from faceprint.video import Alert, JsonLinesSink, Sink, VideoSource, Watcher, WatchSettings, WebhookSink
from tests.conftest import data_root

EXAMPLES = Path("people/face_recognition/examples")
CLIP = EXAMPLES / "short_hamilton_clip.mp4"  # 640x360, 9 s, 275 frames
GALLERY = EXAMPLES / "lin-manuel-miranda.png"
PERSON = "lin-manuel-miranda"
SECRET = "webhook-secret-for-tests"
COLLECTION = "watch"


# -- fixtures -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clip() -> Path:
    path = data_root() / CLIP
    if not path.is_file() or not (data_root() / GALLERY).is_file():
        pytest.skip(f"the Hamilton clip and gallery image are not under {data_root()}; set FACEPRINT_DATA to run this test")
    return path


@pytest.fixture(scope="module")
def watch(tmp_path_factory: pytest.TempPathFactory, engine: fp.Engine, clip: Path) -> Iterator[tuple[fp.Service, str]]:
    """A service whose collection holds lin-manuel-miranda.png; (service, face id)."""
    with fp.Service(tmp_path_factory.mktemp("watch-home"), engine=engine, purge_every_s=None) as svc:
        svc.create_collection(COLLECTION, purpose="robustness tests", consent_required=False)
        indexed = svc.index_faces(COLLECTION, data_root() / GALLERY, external_image_id=PERSON).indexed
        assert len(indexed) == 1
        yield svc, indexed[0].record.face_id


# -- local HTTP servers ----------------------------------------------------------------
Handle = Callable[[http.server.BaseHTTPRequestHandler], None]


@contextmanager
def http_server(handle: Handle) -> Iterator[str]:
    """A threaded HTTP server on a free port of 127.0.0.1; yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            handle(self)

        do_POST = do_GET

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Receiver:
    """A webhook receiver: records each POST (headers, body, status it answered). It
    answers 500 to the first ``fail_first`` requests, and holds each request up to
    ``hold`` seconds (until :attr:`release` is set) before answering."""

    def __init__(self, *, fail_first: int = 0, hold: float = 0.0) -> None:
        self.fail_first, self.hold = fail_first, hold
        self.release = threading.Event()
        self.requests: list[dict[str, object]] = []
        self._lock = threading.Lock()

    def __call__(self, h: http.server.BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length", "0")))
        with self._lock:
            status = 500 if len(self.requests) < self.fail_first else 200
            self.requests.append({"path": h.path, "headers": dict(h.headers), "body": body, "status": status, "at": time.time()})
        if self.hold:
            self.release.wait(self.hold)
        h.send_response(status)
        h.send_header("Content-Length", "0")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True

    def accepted(self) -> list[dict[str, object]]:
        with self._lock:
            return [r for r in self.requests if r["status"] == 200]


def verify_signature(request: dict[str, object], secret: str) -> bool:
    headers: dict[str, str] = request["headers"]  # type: ignore[assignment]
    stamp, signature = headers["X-Faceprint-Timestamp"], headers["X-Faceprint-Signature"]
    expected = hmac.new(secret.encode(), stamp.encode() + b"." + request["body"], hashlib.sha256).hexdigest()  # type: ignore[operator]
    return hmac.compare_digest(signature, f"sha256={expected}")


# -- helpers ----------------------------------------------------------------------------
def make_alert(i: int = 0) -> Alert:
    return Alert(
        stream="cam", timestamp_ms=1000.0 + i, first_seen_ms=900.0, track_id=i, collection=COLLECTION, face_id=f"face-{i}",
        external_image_id=PERSON, user_id=None, similarity=60.0, false_match_rate=1e-6, model="test-model",
        bounding_box=Box(left=0.1, top=0.1, width=0.2, height=0.3), crop_jpeg=b"\xff\xd8jpeg\xff\xd9",
    )  # fmt: skip


class Gate(Sink):
    """A sink whose delivery blocks until :attr:`release` is set."""

    def __init__(self, capacity: int) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.got: list[Alert] = []
        super().__init__(f"gate-{uuid.uuid4().hex[:8]}", capacity)

    def deliver(self, alert: Alert) -> None:
        self.entered.set()
        self.release.wait(30)
        self.got.append(alert)


def run_timed(watcher: Watcher) -> float:
    started = time.monotonic()
    watcher.run()
    return time.monotonic() - started


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def native_threads() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line in /proc/self/status")


def live_rss_mb() -> float:
    """Resident memory after a full collection, with memory the allocator keeps for
    reuse handed back first (glibc keeps freed memory in per-thread arenas: a process
    that starts threads over and over holds on to hundreds of MB that are not live)."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmRSS line in /proc/self/status")


# -- 1. signed webhooks, retried ---------------------------------------------------------
@pytest.mark.models
@pytest.mark.data
def test_webhook_alert_is_signed_carries_the_evidence_and_survives_two_failures(watch: tuple[fp.Service, str], clip: Path) -> None:
    svc, face_id = watch
    good, flaky = Receiver(), Receiver(fail_first=2)
    with http_server(good) as good_url, http_server(flaky) as flaky_url:
        good_sink, flaky_sink = WebhookSink(good_url + "/alerts", SECRET), WebhookSink(flaky_url + "/alerts", SECRET)
        try:
            watcher = Watcher(svc, VideoSource(clip, pace=False), WatchSettings(COLLECTION, min_similarity=50), [good_sink, flaky_sink], name="door-1")
            watcher.run()
        finally:
            good_sink.close(timeout=10)
            flaky_sink.close(timeout=10)
    report = watcher.report()
    assert watcher.error is None
    assert report["alerts"] >= 1, report

    received = good.accepted()
    assert len(received) == report["alerts"]
    assert good_sink.stats() == {"delivered": report["alerts"], "dropped": 0, "failed": 0, "queued": 0, "in_flight": 0, "retries": 0}
    people = []
    for request in received:
        assert request["path"] == "/alerts"
        assert request["headers"]["Content-Type"] == "application/json"
        assert verify_signature(request, SECRET)
        assert not verify_signature(request, SECRET + "x")
        assert abs(int(request["headers"]["X-Faceprint-Timestamp"]) - request["at"]) < 60  # fresh
        body = json.loads(request["body"])
        assert {"Stream", "Timestamp", "TrackId", "CollectionId", "FaceId", "ExternalImageId", "Similarity", "FalseMatchRate", "FaceModelVersion", "FaceCrop"} <= body.keys()
        assert body["Stream"] == "door-1"
        assert body["CollectionId"] == COLLECTION
        assert body["FaceModelVersion"] == svc.model
        assert 0.0 <= body["Timestamp"] <= 10_500.0  # stream time in ms, within the 9 s clip
        assert isinstance(body["TrackId"], int)
        assert body["Similarity"] >= 50.0
        # similarity is -10 log10(false-match rate): 50 is 1 in 100,000
        assert 0.0 < body["FalseMatchRate"] <= 1e-5
        assert body["Similarity"] == pytest.approx(-10.0 * np.log10(body["FalseMatchRate"]), abs=0.01)
        jpeg = base64.b64decode(body["FaceCrop"], validate=True)
        assert jpeg[:2] == b"\xff\xd8"
        crop = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert crop is not None and crop.ndim == 3 and min(crop.shape[:2]) >= 28
        people.append((body["FaceId"], body["ExternalImageId"]))
    assert (face_id, PERSON) in people

    # the flaky receiver answered 500 twice; the sink retried and the same alerts arrived
    assert [r["status"] for r in flaky.requests[:3]] == [500, 500, 200]
    stats = flaky_sink.stats()
    assert stats["retries"] >= 2
    assert stats["delivered"] == report["alerts"] and stats["failed"] == 0 and stats["dropped"] == 0
    assert sorted(r["body"] for r in flaky.accepted()) == sorted(r["body"] for r in received)
    assert all(verify_signature(r, SECRET) for r in flaky.requests)
    # a retry is re-signed (fresh timestamp), after the backoff (0.5 s, then 1 s)
    times = [r["at"] for r in flaky.requests[:3]]
    assert times[1] - times[0] >= 0.45 and times[2] - times[1] >= 0.95


# -- 2. a stalled receiver never holds up decoding ------------------------------------------
@pytest.mark.models
@pytest.mark.data
def test_a_stalled_webhook_never_holds_up_the_watcher(watch: tuple[fp.Service, str], clip: Path) -> None:
    svc, _ = watch
    settings = WatchSettings(COLLECTION, min_similarity=0)  # every decided track alerts: many alerts
    baseline = Watcher(svc, VideoSource(clip, pace=False), settings, [], name="no-webhook")
    baseline_s = run_timed(baseline)
    frames = baseline.report()["frames_decoded"]
    assert frames > 200

    slow = Receiver(hold=5.0)  # each request waits 5 s for its answer
    with http_server(slow) as url:
        sink = WebhookSink(url, SECRET, capacity=1, timeout=10.0)
        try:
            watcher = Watcher(svc, VideoSource(clip, pace=False), settings, [sink], name="slow-webhook")
            elapsed = run_timed(watcher)
            during = sink.stats()
        finally:
            slow.release.set()
            sink.close(timeout=10)
    report = watcher.report()
    assert watcher.error is None
    assert report["frames_decoded"] == report["frames_analyzed"] == frames
    assert elapsed < 3 * baseline_s, (elapsed, baseline_s)
    alerts = report["alerts"]
    assert alerts >= 4, report
    # while stalled: one alert in flight, one queued, the rest dropped and counted
    assert during["queued"] <= 1
    assert during["dropped"] >= 1
    accounted = during["delivered"] + during["dropped"] + during["failed"] + during["queued"]
    assert alerts - 1 <= accounted <= alerts  # the one in flight is in none of the counters
    # once the receiver answers and the sink is closed, every alert is accounted for
    after = sink.stats()
    assert after["queued"] == 0 and after["retries"] == 0 and after["failed"] == 0
    assert after["delivered"] + after["dropped"] == alerts
    assert len(slow.requests) == after["delivered"]


def test_a_blocked_sink_drops_and_counts_what_does_not_fit() -> None:
    sink = Gate(capacity=4)
    try:
        sink.offer(make_alert(0))
        assert sink.entered.wait(5), "the sink thread never picked up the first alert"
        started = time.perf_counter()
        for i in range(1, 101):
            sink.offer(make_alert(i))
        assert time.perf_counter() - started < 0.5  # offer never waits for the receiver
        assert sink.stats() == {"delivered": 0, "dropped": 96, "failed": 0, "queued": 4, "in_flight": 1}
    finally:
        sink.release.set()
        sink.close(timeout=5)
    assert sink.stats() == {"delivered": 5, "dropped": 96, "failed": 0, "queued": 0, "in_flight": 0}
    assert [a.track_id for a in sink.got] == [0, 1, 2, 3, 4]  # the oldest kept, in order
    assert not sink.alive


def test_close_ends_the_sink_thread_even_when_its_queue_was_full() -> None:
    """close() gives up waiting on a stuck receiver; once the receiver recovers, the
    sink's thread must still end rather than wait for alerts forever."""
    sink = Gate(capacity=1)
    sink.offer(make_alert(0))
    assert sink.entered.wait(5)
    sink.offer(make_alert(1))  # queued
    sink.offer(make_alert(2))  # dropped
    sink.close(timeout=0.2)  # the receiver is still stuck
    sink.release.set()  # ... and now recovers
    deadline = time.monotonic() + 2
    while sink.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = sink.stats()
    leaked = sink.alive
    if leaked:  # unblock it so it does not outlive the test
        sink.queue.put(None)
    assert not leaked, f"sink thread still alive after close() and recovery: {stats}"


def test_json_lines_sink_without_crop() -> None:
    """``faceprint watch --no-crop``: the alert line is written, without the crop."""
    out = io.StringIO()
    sink = JsonLinesSink(out, with_crop=False)
    sink.offer(make_alert(7))
    sink.close(timeout=5)
    assert sink.stats() == {"delivered": 1, "dropped": 0, "failed": 0, "queued": 0, "in_flight": 0}, f"nothing written: {out.getvalue()!r}"
    line = json.loads(out.getvalue())
    assert line["TrackId"] == 7 and "FaceCrop" not in line


@pytest.mark.models
def test_report_keeps_the_stats_of_every_sink(tmp_path: Path, engine: fp.Engine) -> None:
    """Two webhooks (two receivers) on one watcher: each has its own counters."""
    with fp.Service(tmp_path / "home", engine=engine, purge_every_s=None) as svc:
        svc.create_collection(COLLECTION, purpose="robustness tests", consent_required=False)
        sinks = [WebhookSink("http://127.0.0.1:9/a", SECRET), WebhookSink("http://127.0.0.1:9/b", SECRET), JsonLinesSink(io.StringIO())]
        try:
            watcher = Watcher(svc, VideoSource(Path(__file__)), WatchSettings(COLLECTION), sinks, name="two-webhooks")
            report = watcher.report()
        finally:
            for s in sinks:
                s.close(timeout=5)
    assert len(report["sinks"]) == len(sinks), report["sinks"]


# -- 3. damaged files ------------------------------------------------------------------
@pytest.mark.models
@pytest.mark.data
def test_damaged_packets_are_skipped_and_counted(watch: tuple[fp.Service, str], clip: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.mp4"
    shutil.copyfile(clip, damaged)
    size = damaged.stat().st_size
    rng = random.Random(0)
    with damaged.open("r+b") as f:  # inside mdat (the moov index is at the end, untouched)
        for at in (0.4, 0.6):
            f.seek(int(size * at))
            f.write(bytes(rng.randrange(256) for _ in range(4096)))

    clean = VideoSource(clip, pace=False, max_width=320)
    clean_ms = [frame.ms for frame in clean.frames()]
    assert clean.stats.corrupt == 0 and not clean.stats.errors

    seen: list[tuple[int, float]] = []
    watcher = Watcher(
        watch[0], VideoSource(damaged, pace=False, max_width=320), WatchSettings(COLLECTION), [],
        name="damaged", observer=lambda frame, _faces: seen.append((frame.index, frame.ms)),
    )  # fmt: skip
    watcher.run()
    report = watcher.report()
    assert watcher.error is None
    assert report["source_errors"] == []  # the stream was not abandoned
    # FFmpeg's h264 decoder raises InvalidDataError on the damaged packets: they are
    # skipped, counted, and their frames are missing; decoding carries on after them
    assert report["corrupt_packets"] > 0
    assert 0 < report["frames_decoded"] < len(clean_ms)
    assert len(clean_ms) - report["frames_decoded"] <= 0.1 * len(clean_ms)
    assert report["frames_analyzed"] == report["frames_decoded"] == len(seen)
    assert [i for i, _ in seen] == list(range(len(seen)))
    assert seen[-1][1] >= clean_ms[-1] - 100.0  # decoded to the end of the clip


# -- 4. a stream that drops ---------------------------------------------------------------
@pytest.fixture(scope="module")
def clip_ts(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The clip remuxed to MPEG-TS, a format that plays from the first byte over HTTP."""
    path = tmp_path_factory.mktemp("ts") / "clip.ts"
    with av.open(str(clip)) as src, av.open(str(path), "w", format="mpegts") as dst:
        stream = src.streams.video[0]
        out = dst.add_stream_from_template(stream)
        for packet in src.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = out
            dst.mux(packet)
    return path.read_bytes()


@pytest.mark.data
def test_a_dropped_stream_is_reconnected_with_backoff(clip_ts: bytes) -> None:
    """1st request: 40 % of the stream, then the connection closes. 2nd: 503. Later: the
    whole stream. The source reconnects after 1 s, then 2 s, and keeps counting."""
    requests: list[float] = []

    def serve(h: http.server.BaseHTTPRequestHandler) -> None:
        requests.append(time.monotonic())
        n = len(requests)
        if n == 2:
            h.send_response(503)
            h.send_header("Content-Length", "0")
            h.end_headers()
            h.close_connection = True
            return
        h.send_response(200)
        h.send_header("Content-Type", "video/mp2t")
        h.send_header("Content-Length", str(len(clip_ts)))
        h.end_headers()
        try:
            h.wfile.write(clip_ts[: len(clip_ts) * 4 // 10] if n == 1 else clip_ts)
            h.wfile.flush()
        except OSError:
            pass
        h.close_connection = True

    with http_server(serve) as url:
        fds = open_fds()
        source = VideoSource(url + "/live.ts", max_width=320)
        assert source.live and source.reconnect
        watchdog = threading.Timer(30.0, source.stop)  # never hang the suite
        watchdog.start()
        seen: list[tuple[int, float, int]] = []
        try:
            for frame in source.frames():
                seen.append((frame.index, frame.ms, source.stats.reconnects))
                if sum(1 for *_, r in seen if r >= 1) >= 60:
                    source.stop()
        finally:
            watchdog.cancel()
        stats = source.stats
        assert open_fds() <= fds + 1  # the dropped and the reopened connections are closed

    assert stats.reconnects >= 1, stats
    assert any("dropped" in e for e in stats.errors), stats.errors
    assert any("open failed" in e and ("503" in e or "5XX" in e) for e in stats.errors), stats.errors
    before = [s for s in seen if s[2] == 0]
    after = [s for s in seen if s[2] >= 1]
    assert 0 < len(before) < 200  # only part of the stream came the first time
    assert len(after) >= 60  # and frames flow again after the reconnect
    assert [i for i, *_ in seen] == list(range(len(seen)))
    ms = [m for _, m, _ in seen]
    assert all(b > a for a, b in zip(ms, ms[1:]))  # stream time keeps counting across the drop
    assert len(requests) >= 3
    assert requests[1] - requests[0] >= 0.9  # waited 1 s after the drop ...
    assert requests[2] - requests[1] >= 1.9  # ... then 2 s after the failed reopen
    assert requests[2] - requests[0] < 20.0


# -- 5. start and stop many watchers ---------------------------------------------------------
@pytest.mark.models
@pytest.mark.data
def test_starting_and_stopping_50_watchers_leaks_nothing(watch: tuple[fp.Service, str], clip: Path) -> None:
    svc, _ = watch
    analyzed = 0

    def cycle(i: int) -> None:
        nonlocal analyzed
        sink = JsonLinesSink(io.StringIO())
        watcher = Watcher(svc, VideoSource(clip, pace=True), WatchSettings(COLLECTION), [sink], name=f"cycle-{i}")
        try:
            watcher.start()
            deadline = time.monotonic() + 5.0  # its threads first build their networks
            while watcher.stats.frames_analyzed == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            watcher.stop()
        finally:
            sink.close(timeout=5)
        assert not watcher.running, f"watcher {i} still running after stop()"
        assert watcher.error is None
        analyzed += watcher.stats.frames_analyzed

    threads, fds = threading.active_count(), open_fds()
    cycle(0)  # loads the models' sessions and thread pools
    assert threading.active_count() <= threads
    native, rss = native_threads(), live_rss_mb()
    for i in range(1, 51):
        cycle(i)
    assert analyzed >= 51  # every watcher ran
    assert threading.active_count() <= threads, [t.name for t in threading.enumerate()]
    assert native_threads() <= native + 2
    assert open_fds() <= fds + 2
    growth = live_rss_mb() - rss
    assert growth < 150.0, f"RSS grew {growth:.0f} MB over 50 watchers"
