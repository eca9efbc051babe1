"""Stream processors (Rekognition's live face search) over local sources.

Where Rekognition reads a Kinesis video stream, faceprint reads a source the operator
names when starting the server (``faceprint serve --stream door=rtsp://...``); a
processor's input ARN names it (``arn:aws:kinesisvideo:local:000000000000:stream/door``),
so API callers can never make the server open a file or URL of their choosing.
Processors are stored, and those running when the process stopped start again with
it (unless their session had a stop time: they are stopped, and say why). Alerts go to
live subscribers (server-sent events) and to an optional webhook.

Over a store several servers share (the server store), a processor runs on one server
at a time: the one that started or adopted it, which renews a lease in the processor's
record every ``HEARTBEAT_S``. A server that stops renewing (it died) loses its
processors after ``LEASE_S`` to any server with the same stream configured. Alerts go
out through the store's events, so a subscriber on any server hears them, and a
processor stopped through any server stops where it runs.

A session may start at a time (``starts_at``: frames decoded before it are skipped;
faceprint keeps no video, so it cannot start earlier than now) and stop after a
duration of stream; regions of interest limit where faces are searched and may change
while it runs.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Collection

from faceprint.errors import FaceprintError, InvalidParameter, LimitExceeded, NotFound, ResourceInUse
from faceprint.video.backend import Backend
from faceprint.store.video import ProcessorRecord
from faceprint.video.alerts import Alert, Broadcast, Sink, WebhookSink
from faceprint.video.leases import held_by, held_elsewhere, lease
from faceprint.video.regions import parse as parse_regions
from faceprint.video.sources import VideoSource
from faceprint.video.urls import check_webhook
from faceprint.video.watcher import DEFAULT_WATCH_SIMILARITY, Watcher, WatchSettings

log = logging.getLogger(__name__)

WEBHOOK_TAG = "faceprint:webhook"
MAX_TAGS = 200  # Rekognition's limit per resource


HEARTBEAT_S = 5.0  # how often a server renews the lease of the processors it runs
LEASE_S = 20.0  # a lease not renewed for this long is free: another server may adopt the processor


@dataclass
class _Running:
    watcher: Watcher
    sinks: list[Sink]
    session: dict[str, Any] = field(default_factory=dict)  # StartedAt, StartsAt, StopAfterSeconds


class _Published(Sink):
    """A running watcher's alerts, published through the store's events to every
    server's subscribers (this one's included)."""

    def __init__(self, events: Any, processor: str) -> None:
        self._events, self._processor = events, processor
        super().__init__(f"events-{processor}")

    def deliver(self, alert: Alert) -> None:
        self._events.publish(_topic(self._processor), pickle.dumps(("alert", alert), protocol=pickle.HIGHEST_PROTOCOL))


def _topic(processor: str) -> str:
    return f"processor:{processor}"


# Alert streams one access key may hold open at once: each holds a connection, and the
# server's connections are shared by every caller (--max-connections).
MAX_STREAMS_PER_KEY = 8


class StreamProcessors:
    def __init__(self, service: Backend, streams: dict[str, str], *, max_width: int = 960, webhook_http_hosts: Collection[str] = ()) -> None:
        self.service = service
        self.streams = streams
        self.max_width = max_width
        self.webhook_http_hosts = frozenset(h.lower() for h in webhook_http_hosts)  # reachable over plain http
        self.server_id = uuid.uuid4().hex[:12]  # whose lease a processor's record names
        self._running: dict[str, _Running] = {}
        self._broadcasts: dict[str, Broadcast] = {}  # processor -> this server's subscribers
        self._lock = threading.Lock()
        self._streams: dict[str, int] = {}  # open alert streams per access key
        self._closed = threading.Event()
        self._stop_listening = service.store.events.listen(self._on_event)
        self._announce()
        self._adopt(at_start=True)
        self._tender = threading.Thread(target=self._tend, name="faceprint-processors", daemon=True)
        self._tender.start()

    def _adopt(self, *, at_start: bool = False) -> None:
        """Start the stored processors that should run and run nowhere: at start, those
        that ran when this store's server stopped; on a shared store, also those whose
        server stopped renewing its lease."""
        shared = bool(getattr(self.service.store, "shared", False))
        for record in self.service.store.jobs.processors():
            if record.status not in ("RUNNING", "STARTING") or record.params.get("Stream") not in self.streams:
                continue
            with self._lock:
                if record.name in self._running and self._running[record.name].watcher.running:
                    continue
            if shared and self._leased_elsewhere(record.params):
                continue
            if not shared and not at_start:
                continue  # one server per embedded store: only its own restart resumes
            session = record.params.get("Session", {})
            if session.get("StopAfterSeconds") is not None:
                # its stop time was counted in a process that is gone: a fresh session
                # would run longer than asked
                self.service.store.jobs.set_processor_status(record.name, "STOPPED", "the server restarted during a session with a StopSelector; start it again")
                continue
            starts_at = session.get("StartsAt")
            try:
                self.start(record.name, starts_at=starts_at if starts_at is not None and starts_at > time.time() else None)
                log.info("stream processor adopted", extra={"processor": record.name, "server": self.server_id})
            except ResourceInUse:
                continue  # another server took it first
            except FaceprintError as exc:
                self.service.store.jobs.set_processor_status(record.name, "FAILED", str(exc))

    def _announce(self) -> None:
        """Tell the servers of a shared store which streams this one can open."""
        if getattr(self.service.store, "shared", False) and self.streams:
            self.service.store.jobs.announce_streams(self.server_id, list(self.streams))

    def _leased_elsewhere(self, params: dict[str, Any]) -> bool:
        return held_elsewhere(params, self.server_id, LEASE_S)

    def _tend(self) -> None:
        """Renew the leases of the processors this server runs; stop those stopped (or
        taken over) elsewhere; adopt orphans on a shared store."""
        if not getattr(self.service.store, "shared", False):
            return  # one server per embedded store: no other server to tell, nothing to adopt
        while not self._closed.wait(HEARTBEAT_S):
            try:
                with self._lock:
                    mine = [name for name, r in self._running.items() if r.watcher.running]
                for name in mine:
                    self._renew(name)
                self._announce()
                self._adopt()
            except Exception:  # noqa: BLE001 - the next round tries again (the database may be back)
                log.exception("tending stream processors failed")

    def _renew(self, name: str) -> None:
        try:
            record = self.service.store.jobs.processor(name)
        except NotFound:
            self._stop_local(name)
            return
        if record.status not in ("RUNNING", "STARTING") or not held_by(record.params, self.server_id):
            self._stop_local(name)  # stopped through another server, or adopted by one
            return
        self.service.store.jobs.update_processor(name, lambda p: {**p, "Runner": lease(self.server_id)})

    def create(
        self,
        name: str,
        stream_arn: str,
        collection: str,
        min_similarity: float | None,
        tags: dict[str, str],
        *,
        regions: list[dict[str, Any]] | None = None,
        echo: dict[str, Any] | None = None,
    ) -> None:
        """Store a processor. ``regions`` are Rekognition's RegionsOfInterest; ``echo``
        holds members kept only to be returned as they were given (Output, RoleArn...)."""
        source = self._source_name(stream_arn)
        self.service.store.collections.describe(collection)
        self._check_tags(tags)
        params: dict[str, Any] = {"Stream": source, "StreamArn": stream_arn, "CollectionId": collection, "FaceMatchThreshold": min_similarity if min_similarity is not None else DEFAULT_WATCH_SIMILARITY, "Tags": tags}
        if regions is not None:
            parse_regions(regions)
            params["RegionsOfInterest"] = regions
        self.service.store.jobs.create_processor(name, {**(echo or {}), **params})

    def start(self, name: str, *, starts_at: float | None = None, max_duration_s: float | None = None) -> None:
        """Start a session: analysis from ``starts_at`` (Unix seconds; None: now) for at
        most ``max_duration_s`` of stream (None: until stopped)."""
        record = self.service.store.jobs.processor(name)
        if record.params["Stream"] not in self.streams and getattr(self.service.store, "shared", False):
            self._hand_over(record, starts_at, max_duration_s)
            return
        with self._lock:
            if name in self._running and self._running[name].watcher.running:
                raise ResourceInUse(f"stream processor {name} is already running")
            params = record.params
            source_spec = self.streams.get(params["Stream"])
            if source_spec is None:
                raise InvalidParameter(f"stream {params['Stream']} is not configured on this server (faceprint serve --stream NAME=SOURCE)")
            webhook = params.get("Tags", {}).get(WEBHOOK_TAG)
            if webhook:
                check_webhook(webhook, self.webhook_http_hosts)  # stored before the rule, or the operator's list changed
            sinks: list[Sink] = [_Published(self.service.store.events, name)]
            if webhook:
                sinks.append(WebhookSink(webhook, os.environ.get("FACEPRINT_WEBHOOK_SECRET", "")))
            source = VideoSource(source_spec, pace=True, max_width=self.max_width, reconnect=True)
            settings = WatchSettings(
                params["CollectionId"],
                min_similarity=params["FaceMatchThreshold"],
                regions=parse_regions(params.get("RegionsOfInterest") or []),
                starts_at=starts_at,
                max_duration_s=max_duration_s,
            )
            watcher = Watcher(self.service, source, settings, sinks, name=name, on_end=lambda w: self._ended(name, w))
            session = {"StartedAt": time.time(), "StartsAt": starts_at, "StopAfterSeconds": max_duration_s}

            def claim(p: dict[str, Any]) -> dict[str, Any]:
                if self._leased_elsewhere(p):  # read and written in one transaction: one server wins
                    raise ResourceInUse(f"stream processor {name} is already running on another server")
                return {**p, "Session": session, "Runner": lease(self.server_id)}

            try:
                self.service.store.jobs.update_processor(name, claim)
            except BaseException:
                for sink in sinks:
                    sink.close()
                raise
            watcher.start()
            self._running[name] = _Running(watcher, sinks, session)
        self.service.store.jobs.set_processor_status(name, "RUNNING")

    def _hand_over(self, record: ProcessorRecord, starts_at: float | None, max_duration_s: float | None) -> None:
        """Start a processor whose stream this server does not have: it is marked
        STARTING, and a server that has the stream adopts it within ``HEARTBEAT_S``."""
        name = record.name
        if record.status in ("RUNNING", "STARTING") and self._leased_elsewhere(record.params):
            raise ResourceInUse(f"stream processor {name} is already running")
        if max_duration_s is not None:
            # a StopSelector's clock would start on another server: refuse rather than run longer
            raise InvalidParameter(f"a session with a StopSelector must be started through a server that has stream {record.params['Stream']}")
        session = {"StartedAt": time.time(), "StartsAt": starts_at, "StopAfterSeconds": None}
        self.service.store.jobs.update_processor(name, lambda p: {**p, "Session": session, "Runner": {}})
        self.service.store.jobs.set_processor_status(name, "STARTING", f"waiting for a server that has stream {record.params['Stream']}")

    def _ended(self, name: str, watcher: Watcher) -> None:
        """A watcher's last thread is done. When it ended on its own (its StopSelector, or
        an error), its sinks close and the stored status says so; after stop() or close()
        (which took it out of the running set first) there is nothing left to do."""
        with self._lock:
            running = self._running.get(name)
        if running is None or running.watcher is not watcher:
            return
        for sink in running.sinks:
            sink.close()
        self._publish_end(name)
        try:
            stream = self.service.store.jobs.processor(name).params["Stream"]
            self.service.store.jobs.set_processor_status(name, "FAILED" if watcher.error else "STOPPED", self._redact(watcher.error or watcher.end_reason, stream))
        except FaceprintError as exc:  # deleted meanwhile, or the store is failing: the status stays as it was
            log.warning("could not record the end of a stream processor", extra={"processor": name, "error": str(exc)})

    def stop(self, name: str) -> None:
        """Stop a processor and free its threads, decoder and sinks; one running on
        another server of a shared store stops there within ``HEARTBEAT_S``."""
        self.service.store.jobs.processor(name)  # NotFound
        running = self._stop_local(name)
        self.service.store.jobs.set_processor_status(name, "STOPPED", running.watcher.error if running else None)

    def _stop_local(self, name: str) -> _Running | None:
        with self._lock:
            running = self._running.pop(name, None)
        if running is not None:
            running.watcher.stop()
            for sink in running.sinks:
                sink.close()
            self._publish_end(name)
        return running

    def _publish_end(self, name: str) -> None:
        """Tell every server's subscribers that this session is over."""
        try:
            self.service.store.events.publish(_topic(name), pickle.dumps(("end", None)))
        except FaceprintError as exc:  # their streams end when their server notices the status
            log.warning("could not announce the end of a stream processor", extra={"processor": name, "error": str(exc)})

    def _on_event(self, topic: str, payload: bytes) -> None:
        """An event from any server (this one's included): hand alerts to this server's
        subscribers; at a session's end, end their streams."""
        if not topic.startswith("processor:"):
            return
        name = topic[len("processor:") :]
        kind, alert = pickle.loads(payload)  # sealed by the store, or from this process: written by us only
        with self._lock:
            broadcast = self._broadcasts.get(name) if kind == "alert" else self._broadcasts.pop(name, None)
        if broadcast is None:
            return
        if kind == "alert":
            broadcast.offer(alert)
        else:
            broadcast.close()

    def delete(self, name: str) -> None:
        with self._lock:
            running = self._running.get(name)
            if running is not None and running.watcher.running:
                raise ResourceInUse(f"stop stream processor {name} before deleting it")
            self._running.pop(name, None)  # a session that ended on its own
        self.service.store.jobs.delete_processor(name)

    def describe(self, name: str) -> dict[str, Any]:
        """The stored record, the status, and the counters and session times of the
        session this process ran last (None when it ran none)."""
        record = self.service.store.jobs.processor(name)
        with self._lock:
            running = self._running.get(name)
        report = running.watcher.report() if running else None
        stream = record.params["Stream"]
        if report is not None:
            report["error"] = self._redact(report["error"], stream)
        message = self._redact(record.message, stream)
        return {"record": record, "status": self._status(record), "message": message, "report": report, "session": running.session if running else None}

    def update(self, name: str, *, regions: list[dict[str, Any]] | None = None, delete_regions: bool = False, echo: dict[str, Any] | None = None) -> None:
        """Replace (or delete) the regions of interest, at once in a running session too,
        and members kept to be returned (``echo``)."""
        if regions is not None:
            parse_regions(regions)

        def change(params: dict[str, Any]) -> dict[str, Any]:
            params = {**params, **(echo or {})}
            if delete_regions:
                params.pop("RegionsOfInterest", None)
            elif regions is not None:
                params["RegionsOfInterest"] = regions
            return params

        record = self.service.store.jobs.update_processor(name, change)
        with self._lock:
            running = self._running.get(name)
            if running is not None:
                running.watcher.settings.regions = parse_regions(record.params.get("RegionsOfInterest") or [])

    def tags(self, name: str) -> dict[str, str]:
        return dict(self.service.store.jobs.processor(name).params.get("Tags", {}))

    def tag(self, name: str, tags: dict[str, str]) -> None:
        """Add or replace tags (a webhook tag applies from the next start)."""
        self._check_tags(tags)

        def change(params: dict[str, Any]) -> dict[str, Any]:
            merged = {**params.get("Tags", {}), **tags}
            if len(merged) > MAX_TAGS:
                raise InvalidParameter(f"stream processor {name} would hold {len(merged)} tags; at most {MAX_TAGS} fit")
            return {**params, "Tags": merged}

        self.service.store.jobs.update_processor(name, change)

    def untag(self, name: str, keys: list[str]) -> None:
        self.service.store.jobs.update_processor(name, lambda p: {**p, "Tags": {k: v for k, v in p.get("Tags", {}).items() if k not in keys}})

    def names(self) -> list[tuple[str, str]]:
        return [(r.name, self._status(r)) for r in self.service.store.jobs.processors()]

    def _status(self, record: ProcessorRecord) -> str:
        """The stored status, unless the processor's watcher has ended since."""
        with self._lock:
            running = self._running.get(record.name)
        if running is not None and not running.watcher.running:
            return "FAILED" if running.watcher.error else "STOPPED"
        return record.status

    def subscribe(self, name: str, owner: str = "") -> tuple[queue.Queue[Alert], Broadcast]:
        """A queue of ``name``'s alerts for the access key ``owner``; give it back with
        :meth:`unsubscribe`.

        Raises:
            LimitExceeded: ``owner`` already holds MAX_STREAMS_PER_KEY open streams.
        """
        record = self.service.store.jobs.processor(name)  # NotFound
        if self._status(record) != "RUNNING":  # never started, or its session ended (on any server)
            raise ResourceInUse(f"stream processor {name} is not running")
        with self._lock:
            if self._streams.get(owner, 0) >= MAX_STREAMS_PER_KEY:
                raise LimitExceeded(f"this access key already holds {MAX_STREAMS_PER_KEY} open alert streams; close one first")
            self._streams[owner] = self._streams.get(owner, 0) + 1
            broadcast = self._broadcasts.get(name)
            if broadcast is None or not broadcast.alive:
                broadcast = self._broadcasts[name] = Broadcast()
        return broadcast.subscribe(), broadcast

    def unsubscribe(self, broadcast: Broadcast, q: queue.Queue[Alert], owner: str = "") -> None:
        broadcast.unsubscribe(q)
        with self._lock:
            left = self._streams.get(owner, 0) - 1
            if left > 0:
                self._streams[owner] = left
            else:
                self._streams.pop(owner, None)

    def close(self) -> None:
        """Stop every processor (their stored status stays RUNNING: they restart with the
        server, or another server of a shared store adopts them once the lease runs out)."""
        self._closed.set()
        self._stop_listening()
        with self._lock:
            running, self._running = list(self._running.values()), {}
            broadcasts, self._broadcasts = list(self._broadcasts.values()), {}
        for r in running:
            r.watcher.stop()
            for sink in r.sinks:
                sink.close()
        for broadcast in broadcasts:
            broadcast.close()

    def _check_tags(self, tags: dict[str, str]) -> None:
        unknown = sorted(k for k in tags if k.startswith("faceprint:") and k != WEBHOOK_TAG)
        if unknown:
            raise InvalidParameter(f"tag {unknown[0]} is not one faceprint knows; a stream processor takes {WEBHOOK_TAG}")
        if tags.get(WEBHOOK_TAG) and not os.environ.get("FACEPRINT_WEBHOOK_SECRET"):
            raise InvalidParameter(f"tag {WEBHOOK_TAG} needs FACEPRINT_WEBHOOK_SECRET set on the server to sign the alerts")
        if tags.get(WEBHOOK_TAG):
            check_webhook(tags[WEBHOOK_TAG], self.webhook_http_hosts)

    def _redact(self, text: str | None, stream: str) -> str | None:
        """``text`` without the source ``stream`` names (an RTSP URL may hold a password):
        API callers see the stream's name instead."""
        spec = self.streams.get(stream)
        return text.replace(spec, f"stream {stream}") if text and spec else text


    def _source_name(self, arn: str) -> str:
        """The stream an input ARN names: one configured on this server, or, on a store
        other servers share, one a live server announced (only an operator's configured
        names are ever opened, wherever the call came in)."""
        resource = arn.split(":", 5)[-1]
        name = resource.split("/")[1] if resource.startswith("stream/") and "/" in resource else ""
        if name not in self.streams and getattr(self.service.store, "shared", False) and name in self.service.store.jobs.announced_streams(LEASE_S):
            return name
        if name not in self.streams:
            known = ", ".join(sorted(self.streams)) or "none"
            raise InvalidParameter(f"the input must name a stream configured on this server (arn:aws:kinesisvideo:local:000000000000:stream/NAME; configured: {known})")
        return name
