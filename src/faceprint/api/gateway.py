"""The AWS JSON 1.1 endpoint: from a raw request to a response body, every error typed.

The order of checks is the order a careful server needs: the operation header, the
declared body size, what the Authorization header claims (its form, date, scope and
an active key: nothing of a body is read for a caller the server cannot accept), the
body (cut at the size limit and at a deadline), the signature over it and the replay
window and rate limit, the role, the JSON and its shape, then the call itself on the
inference pool, bounded so that an overload is answered with ThrottlingException
instead of an ever-growing queue. A request refused before its body was read closes
its connection, so the rest of the body is never taken in.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

from faceprint.api import model, operation_table, operations, video_operations
from faceprint.api.config import ServerConfig
from faceprint.api.errors import BodyImageTooLarge, RequestTimeout, RequestTooLarge, SerializationException, Throttling, UnknownOperationException, UnsupportedMediaType, body_of, headers_of, status_of
from faceprint.api.guard import Caller, Guard
from faceprint.api.metrics import IN_FLIGHT, LATENCY, REQUESTS
from faceprint.engine import Engine
from faceprint.errors import FaceprintError
from faceprint.service import Service
from faceprint.liveness.passive import SAME_PERSON_SIMILARITY
from faceprint.liveness.sessions import LivenessSessions
from faceprint.rekognition import shapes
from faceprint.video.jobs import VideoJobs
from faceprint.video.processors import StreamProcessors

log = logging.getLogger("faceprint.api")

CONTENT_TYPES = ("application/x-amz-json-1.1", "application/x-amz-json-1.0")
REPLY_TYPE = "application/x-amz-json-1.1"


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)
    events: video_operations.EventStream | None = None  # a server-sent event stream instead of a body
    key_id: str | None = None  # the caller's access key (an event stream ends when it is revoked)


@dataclass
class RawRequest:
    """What the endpoint needs of an HTTP request, independent of the web framework."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # case-insensitive
    header_values: Callable[[str], Sequence[str]]
    stream: Callable[[], AsyncIterator[bytes]]


class Gateway:
    """Owns the service, the guard and the inference pool of one server process."""

    def __init__(self, config: ServerConfig, service: Service | None = None) -> None:
        self.config = config
        self._owns_service = service is None
        self.service = service or Service(config.home, engine=Engine(config.mode), actor="server")
        self.guard = Guard(self.service.store, rate=config.rate)
        uploads = self.service.store.home / video_operations.UPLOADS
        uploads.mkdir(mode=0o700, exist_ok=True)  # expired and stray files: the store's purge (at open, then hourly)
        self.config.buckets = {**config.buckets, video_operations.UPLOADS: uploads}
        self.jobs = VideoJobs(self.service, render=shapes.video_job)
        self.processors = StreamProcessors(self.service, config.streams, webhook_http_hosts=config.webhook_http_hosts)
        self.liveness = LivenessSessions(
            self.service.engine.analyzer, same_person=self.service.engine.bar(SAME_PERSON_SIMILARITY).thresholds, ledger=self.service.store.liveness
        )
        self.pool = ThreadPoolExecutor(max(1, config.workers), thread_name_prefix="faceprint-api")
        self._pending = 0
        self._lock = threading.Lock()
        self.ready = False

    def warm_up(self) -> None:
        """Load the models before the first request (readiness waits for this)."""
        import numpy as np

        self.service.engine.analyzer.detect(np.zeros((64, 64, 3), np.uint8))
        self.ready = True

    def close(self) -> None:
        self.ready = False
        self.processors.close()
        self.jobs.close()
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self._owns_service:
            self.service.close()
            self.service.engine.close()

    async def handle(self, request: RawRequest) -> Reply:
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        operation, caller, body_read = "-", None, False
        IN_FLIGHT.inc()
        try:
            entry, op = self._operation(request.headers)
            operation = entry.name
            self._check_length(request.headers, entry)
            claim = self.guard.claim(request.headers)
            body = await self._read_body(request, entry)
            body_read = True
            caller = self.guard.admit(claim, request.header_values, method=request.method, path=request.path, query=request.query, body=body)
            self._authorize(caller, operation)
            params = model.check_input(op, _parse_json(body))
            result = await self._run(entry, params, caller)
            if isinstance(result, video_operations.EventStream):
                reply = Reply(200, {}, request_id, events=result, key_id=caller.key_id)
            else:
                reply = Reply(200, result, request_id)
        except FaceprintError as exc:
            if exc.retryable and caller is not None:
                self.guard.release(caller)  # it had no effect: the SDK's retry may run
            reply = Reply(status_of(exc), body_of(exc), request_id, headers_of(exc))
            if not body_read:
                reply.headers["Connection"] = "close"  # what is left of the body is never read
        except Exception:  # noqa: BLE001 - a bug must still answer in AWS's shape
            log.exception("internal error", extra={"request_id": request_id, "operation": operation})
            reply = Reply(500, {"__type": "InternalServerError", "message": "internal error; see the server log for request " + request_id}, request_id)
            if not body_read:
                reply.headers["Connection"] = "close"
        finally:
            IN_FLIGHT.dec()
        elapsed = time.perf_counter() - started
        code = reply.body.get("__type", "OK")
        REQUESTS.labels(operation, code).inc()
        LATENCY.labels(operation).observe(elapsed)
        log.info(
            "request",
            extra={"request_id": request_id, "operation": operation, "status": reply.status, "code": code, "ms": round(elapsed * 1000, 2), "key": caller.key_id if caller else None},
        )
        return reply

    # -- the steps --------------------------------------------------------------
    def _operation(self, headers: Mapping[str, str]) -> tuple[operation_table.Operation, Any]:
        """The operation the request names: its table entry and its service model's operation."""
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in CONTENT_TYPES:
            raise UnsupportedMediaType(f"Content-Type must be {REPLY_TYPE}")
        target = headers.get("x-amz-target")
        if not target or "." not in target:
            raise UnknownOperationException("X-Amz-Target must name an operation: RekognitionService.<Operation> or FaceprintService.<Operation>")
        prefix, name = target.split(".", 1)
        op, entry = model.operation(prefix, name), operation_table.find(name)
        if op is None or entry is None:
            raise UnknownOperationException(f"this server does not implement {target[:200]}")
        return entry, op

    def _too_large(self, entry: operation_table.Operation) -> FaceprintError:
        error = BodyImageTooLarge if entry.takes_image else RequestTooLarge
        return error(f"the request is over {self.config.max_body_bytes} bytes")

    def _check_length(self, headers: Mapping[str, str], entry: operation_table.Operation) -> None:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.config.max_body_bytes:
            raise self._too_large(entry)

    async def _read_body(self, request: RawRequest, entry: operation_table.Operation) -> bytes:
        chunks, total = [], 0
        try:
            async with asyncio.timeout(self.config.body_timeout_s):
                async for chunk in request.stream():
                    total += len(chunk)
                    if total > self.config.max_body_bytes:
                        raise self._too_large(entry)
                    chunks.append(chunk)
        except TimeoutError:
            raise RequestTimeout(f"the request body did not arrive within {self.config.body_timeout_s:g} s") from None
        return b"".join(chunks)

    def _authorize(self, caller: Caller, operation: str) -> None:
        try:
            self.guard.authorize(caller, operation)
        except FaceprintError:
            with _acting(self.service.store, caller):
                self.service.store.audit.record("AccessDenied", detail={"operation": operation})
            raise

    async def _run(self, entry: operation_table.Operation, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
        with self._lock:
            if self._pending >= self.config.max_pending:
                raise Throttling(f"the server has {self._pending} calls waiting; retry later")
            self._pending += 1
        try:
            call = operations.Call(
                self.service, params, caller, self.guard, self.config.buckets, self.jobs, self.processors, self.liveness, max_image_pixels=self.config.max_image_pixels
            )
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.pool, _invoke, entry, call)
        finally:
            with self._lock:
                self._pending -= 1


def _acting(store: Any, caller: Caller) -> Any:
    """Attribute the store's audit entries to the calling key, with its declared purpose."""
    return store.audit.acting(caller.key_id, key_purpose=caller.key.purpose, role=caller.role)


def _invoke(entry: operation_table.Operation, call: operations.Call) -> dict[str, Any]:
    store = call.service.store
    with _acting(store, call.caller):
        result = entry.handler(call)
        if not entry.self_audited:
            store.audit.record(entry.name, collection=call.collection or call.params.get("CollectionId"))
    return result


# A \uD800-\uDFFF escape: a surrogate, which is text only as half of a valid pair.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _parse_json(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
        if _SURROGATE_ESCAPE.search(body):
            # A lone surrogate decodes to a str that cannot be written as UTF-8 (to the
            # store, the log or a reply); refuse it here, where the cause is clear.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeError is a ValueError
        raise SerializationException("the body is not valid JSON text (invalid UTF-8 or an unpaired surrogate escape)") from None
    if not isinstance(value, dict):
        raise SerializationException("the body must be a JSON object")
    return value
