"""The FastAPI application: the AWS endpoint, health, readiness, metrics and the console.

Example:
    >>> from faceprint.api import create_app, ServerConfig      # doctest: +SKIP
    >>> app = create_app(ServerConfig(home="/srv/faceprint"))
    >>> # uvicorn.run(app, host="127.0.0.1", port=8300)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import time
from importlib import resources
from typing import AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from faceprint.api.config import ServerConfig
from faceprint.api.gateway import REPLY_TYPE, Gateway, RawRequest
from faceprint.api.video_operations import EventStream, sse
from faceprint.service import Service

CONSOLE_DIR = resources.files("faceprint.api") / "console"
KEY_CHECK_S = 1.0  # how often an open alert stream checks that its key is still active
CONSOLE_HEADERS = {
    "X-Frame-Options": "DENY",
    # The pages' own <meta> policies are stricter still; this one holds for every file.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; object-src 'none'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ConsoleFiles(StaticFiles):
    """The console's files. The page holds a secret, so it is never framed, cached or
    sniffed. (Set here rather than in an HTTP middleware, which would tax every API call.)"""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(CONSOLE_HEADERS)
        return response


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    model: str


def create_app(config: ServerConfig | None = None, *, service: Service | None = None) -> AwsEndpoint:
    """The ASGI app over one store; models load at startup (``/ready`` waits for them)."""
    config = config or ServerConfig()
    state: dict[str, Gateway] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gateway = Gateway(config, service)
        gateway.warm_up()
        state["gateway"] = gateway
        try:
            yield
        finally:
            gateway.close()

    app = FastAPI(title="faceprint", summary="Rekognition-compatible face recognition, self-hosted", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        """Liveness: the process answers."""
        return Health(status="ok")

    @app.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
    async def ready() -> Response:
        """Readiness: models loaded and the store open (nothing about what the store
        holds: this answers without a key)."""
        gateway = state.get("gateway")
        if gateway is None or not gateway.ready:
            return JSONResponse(Readiness(ready=False, model="").model_dump(), status_code=503)
        return JSONResponse(Readiness(ready=True, model=gateway.service.model).model_dump())

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/console/")

    app.mount("/console", ConsoleFiles(directory=str(CONSOLE_DIR), html=True), name="console")
    return AwsEndpoint(app, state)


async def _server_sent(events: EventStream, request: Request, key_active: Callable[[], bool]) -> AsyncIterator[bytes]:
    """Alerts as they come; a comment every 15 s keeps proxies from closing the line.
    Ends when the client goes away, the processor stops or the caller's key is revoked
    (checked every second: at once after RevokeAccessKey, within the guard's key cache
    window after ``faceprint keys revoke``)."""
    idle, check_at = 0.0, time.monotonic() + KEY_CHECK_S
    try:
        yield b": faceprint alerts of " + events.name.encode() + b"\n\n"
        while not await request.is_disconnected():
            if time.monotonic() >= check_at:
                check_at = time.monotonic() + KEY_CHECK_S
                if not await asyncio.to_thread(key_active):  # a store read: off the event loop
                    yield b": the access key was revoked\n\n"
                    return
            try:
                alert = events.queue.get_nowait()
            except queue.Empty:
                if not events.broadcast.alive:
                    return
                await asyncio.sleep(0.1)
                idle += 0.1
                if idle >= 15.0:
                    idle = 0.0
                    yield b": keep-alive\n\n"
                continue
            idle = 0.0
            yield sse(alert)
    finally:
        events.release()


class AwsEndpoint:
    """``POST /``, the AWS JSON endpoint, straight to the gateway; everything else (and
    the lifespan) to the FastAPI app. Every API call takes this path, so it skips the
    framework's routing and middleware, which cost more Python time than the checks
    themselves and, on a small machine, compete with inference for the interpreter."""

    def __init__(self, app: FastAPI, state: dict[str, Gateway]) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/":
            return await self.app(scope, receive, send)
        request = Request(scope, receive)
        raw = RawRequest(
            method="POST",
            path="/",
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=request.headers,
            header_values=request.headers.getlist,
            stream=request.stream,
        )
        gateway = self.state["gateway"]
        reply = await gateway.handle(raw)
        if reply.events is not None:
            key_id = reply.key_id or ""
            events = _server_sent(reply.events, request, lambda: gateway.guard.active(key_id))
            stream = StreamingResponse(events, media_type="text/event-stream", headers={"x-amzn-RequestId": reply.request_id, "Cache-Control": "no-store"})
            return await stream(scope, receive, send)
        try:
            # ASCII-escaped JSON: any text a caller sent that ends up in a message can be written.
            body = json.dumps(reply.body, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()
        except ValueError:  # a non-finite number in a result: a bug, answered in AWS's shape
            reply.status, body = 500, b'{"__type":"InternalServerError","message":"the result could not be encoded"}'
        response = Response(body, status_code=reply.status, media_type=REPLY_TYPE, headers={"x-amzn-RequestId": reply.request_id, **reply.headers})
        await response(scope, receive, send)
