"""Stream processors (Rekognition's live face search) over local sources.

Where Rekognition reads a Kinesis video stream, faceprint reads a source the operator
names when starting the server (``faceprint serve --stream door=rtsp://...``); a
processor's input ARN names it (``arn:aws:kinesisvideo:local:000000000000:stream/door``),
so API callers can never make the server open a file or URL of their choosing.
Processors are stored, and those running when the process stopped start again with
it. Alerts go to live subscribers (server-sent events) and to an optional webhook.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass
from typing import Any

from faceprint.errors import FaceprintError, InvalidParameter, NotFound, ResourceInUse
from faceprint.video.backend import Backend
from faceprint.store.video import ProcessorRecord
from faceprint.video.alerts import Alert, Broadcast, Sink, WebhookSink
from faceprint.video.sources import VideoSource
from faceprint.video.watcher import DEFAULT_WATCH_SIMILARITY, Watcher, WatchSettings

log = logging.getLogger(__name__)

WEBHOOK_TAG = "faceprint:webhook"


@dataclass
class _Running:
    watcher: Watcher
    sinks: list[Sink]
    broadcast: Broadcast


class StreamProcessors:
    def __init__(self, service: Backend, streams: dict[str, str], *, max_width: int = 960) -> None:
        self.service = service
        self.streams = streams
        self.max_width = max_width
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        for record in service.store.processors():
            if record.status in ("RUNNING", "STARTING"):
                try:
                    self.start(record.name)
                except FaceprintError as exc:
                    service.store.set_processor_status(record.name, "FAILED", str(exc))

    def create(self, name: str, stream_arn: str, collection: str, threshold: float | None, tags: dict[str, str]) -> None:
        source = self._source_name(stream_arn)
        self.service.store.describe_collection(collection)
        if tags.get(WEBHOOK_TAG) and not os.environ.get("FACEPRINT_WEBHOOK_SECRET"):
            raise InvalidParameter(f"tag {WEBHOOK_TAG} needs FACEPRINT_WEBHOOK_SECRET set on the server to sign the alerts")
        params = {"Stream": source, "StreamArn": stream_arn, "CollectionId": collection, "FaceMatchThreshold": threshold if threshold is not None else DEFAULT_WATCH_SIMILARITY, "Tags": tags}
        self.service.store.create_processor(name, params)

    def start(self, name: str) -> None:
        record = self.service.store.processor(name)
        with self._lock:
            if name in self._running and self._running[name].watcher.running:
                raise ResourceInUse(f"stream processor {name} is already running")
            params = record.params
            source_spec = self.streams.get(params["Stream"])
            if source_spec is None:
                raise InvalidParameter(f"stream {params['Stream']} is not configured on this server (faceprint serve --stream NAME=SOURCE)")
            broadcast = Broadcast()
            sinks: list[Sink] = [broadcast]
            webhook = params.get("Tags", {}).get(WEBHOOK_TAG)
            if webhook:
                sinks.append(WebhookSink(webhook, os.environ.get("FACEPRINT_WEBHOOK_SECRET", "")))
            source = VideoSource(source_spec, pace=True, max_width=self.max_width, reconnect=True)
            watcher = Watcher(self.service, source, WatchSettings(params["CollectionId"], threshold=params["FaceMatchThreshold"]), sinks, name=name)
            watcher.start()
            self._running[name] = _Running(watcher, sinks, broadcast)
        self.service.store.set_processor_status(name, "RUNNING")

    def stop(self, name: str) -> None:
        """Stop a processor and free its threads, decoder and sinks."""
        self.service.store.processor(name)  # NotFound
        with self._lock:
            running = self._running.pop(name, None)
        if running is not None:
            running.watcher.stop()
            for sink in running.sinks:
                sink.close()
        self.service.store.set_processor_status(name, "STOPPED", running.watcher.error if running else None)

    def delete(self, name: str) -> None:
        with self._lock:
            if name in self._running:
                raise ResourceInUse(f"stop stream processor {name} before deleting it")
        self.service.store.delete_processor(name)

    def describe(self, name: str) -> dict[str, Any]:
        record = self.service.store.processor(name)
        with self._lock:
            running = self._running.get(name)
        return {"record": record, "status": self._status(record), "report": running.watcher.report() if running else None}

    def names(self) -> list[tuple[str, str]]:
        return [(r.name, self._status(r)) for r in self.service.store.processors()]

    def _status(self, record: ProcessorRecord) -> str:
        """The stored status, unless the processor's watcher has ended since."""
        with self._lock:
            running = self._running.get(record.name)
        if running is not None and not running.watcher.running:
            return "FAILED" if running.watcher.error else "STOPPED"
        return record.status

    def subscribe(self, name: str) -> tuple[queue.Queue[Alert], Broadcast]:
        with self._lock:
            running = self._running.get(name)
        if running is None:
            raise ResourceInUse(f"stream processor {name} is not running") if self._exists(name) else NotFound(f"no stream processor {name}")
        return running.broadcast.subscribe(), running.broadcast

    def close(self) -> None:
        """Stop every processor (their stored status stays RUNNING: they restart with the server)."""
        with self._lock:
            running, self._running = list(self._running.values()), {}
        for r in running:
            r.watcher.stop()
            for sink in r.sinks:
                sink.close()

    def _exists(self, name: str) -> bool:
        try:
            self.service.store.processor(name)
            return True
        except NotFound:
            return False

    def _source_name(self, arn: str) -> str:
        resource = arn.split(":", 5)[-1]
        name = resource.split("/")[1] if resource.startswith("stream/") and "/" in resource else ""
        if name not in self.streams:
            known = ", ".join(sorted(self.streams)) or "none"
            raise InvalidParameter(f"the input must name a stream configured on this server (arn:aws:kinesisvideo:local:000000000000:stream/NAME; configured: {known})")
        return name
