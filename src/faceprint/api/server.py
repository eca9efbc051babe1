"""Run the service with uvicorn: ``faceprint serve`` and ``make serve``."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import pickle
import socket
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from faceprint.api.app import create_app
from faceprint.api.config import ServerConfig
from faceprint.api.logs import log_config
from faceprint.errors import InvalidParameter
from faceprint.store import postgres
from faceprint.store.store import STORE_ENV

# A request's line and headers together; SigV4's come to well under 2 KB.
MAX_HEAD_BYTES = 32 * 1024


WORKER_CONFIG_ENV = "FACEPRINT_SERVER_CONFIG"  # the config each worker process of --processes builds its app from
HEADER_TIMEOUT_ENV = "FACEPRINT_HEADER_TIMEOUT_S"


def serve(
    config: ServerConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8300,
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
    log_level: str = "info",
    processes: int = 1,
) -> None:
    """Serve until interrupted.

    One process by default: inference uses ``config.workers`` threads (all cores). With
    ``processes`` > 1, uvicorn runs that many worker processes on one socket (restarting
    one that dies), each with its own models and an equal share of the threads; they
    share everything else through the server store, which is therefore required.

    Raises:
        InvalidParameter: ``processes`` > 1 over the embedded store.
    """
    _limit_malloc_arenas()
    common: dict[str, Any] = dict(
        host=host,
        port=port,
        limit_concurrency=config.max_connections,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        log_config=log_config(log_level),
        access_log=False,  # the gateway logs each call as JSON, with its operation and result
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    if processes <= 1:
        uvicorn.run(create_app(config), http=head_deadline_protocol(config.header_timeout_s), **common)
        return
    if not postgres.is_url(os.environ.get(STORE_ENV, "")):
        raise InvalidParameter(
            "--processes needs the server store (--store postgresql://...): over the embedded store, the replay guard, "
            "rate limits, liveness sessions and alerts live in one process"
        )
    worker = dataclasses.replace(config, workers=max(1, config.workers // processes))
    os.environ[WORKER_CONFIG_ENV] = base64.b64encode(pickle.dumps(worker)).decode()
    os.environ[HEADER_TIMEOUT_ENV] = str(config.header_timeout_s)
    uvicorn.run("faceprint.api.server:app_from_environment", factory=True, workers=processes, http="faceprint.api.server:WorkerProtocol", **common)


def app_from_environment() -> Any:
    """The app of one worker process of ``serve(processes=N)``."""
    return create_app(pickle.loads(base64.b64decode(os.environ[WORKER_CONFIG_ENV])))  # written by serve() above


class _HeadTooLarge(Exception):
    pass


def head_deadline_protocol(timeout_s: float, max_head_bytes: int = MAX_HEAD_BYTES) -> type[HttpToolsProtocol]:
    """uvicorn's HTTP protocol with what it lacks against a caller who never finishes a
    request's head: the connection is closed when the line and headers have not all
    arrived ``timeout_s`` after it opened or after the previous response, and a head
    over ``max_head_bytes`` is refused (400). Bodies have their own deadline in the
    gateway, which reads them."""

    class HeadDeadlineProtocol(HttpToolsProtocol):
        _head_timer: asyncio.TimerHandle | None = None
        _head_bytes = 0
        _raw_head_bytes = 0  # as received: the parser holds a header's value until the next one starts
        _in_head = True

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                # small replies must not wait for the client's delayed ACK (Nagle): the
                # sockets uvicorn's worker processes are handed lacked this, 40 ms a call
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._in_head and not self.transport.is_closing():
                self._raw_head_bytes += len(data)
                if self._raw_head_bytes > max_head_bytes:  # one header that never ends
                    self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                    self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            self._head_bytes = 0
            self._in_head = True
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._disarm()
            self._in_head = False
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._in_head, self._raw_head_bytes = True, 0
            if not self.transport.is_closing():
                self._arm()  # the next request's head

        def _count(self, n: int) -> None:
            self._head_bytes += n
            if self._head_bytes > max_head_bytes:
                raise _HeadTooLarge  # the parser stops; uvicorn answers 400 and closes

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(timeout_s, self._head_overdue)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_overdue(self) -> None:
            self._head_timer = None
            idle = self.cycle is None or self.cycle.response_complete  # no request of this connection is being served
            if idle and not self.transport.is_closing():
                self.transport.close()

    return HeadDeadlineProtocol


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives every new thread its own malloc arena and keeps freed memory in it;
    stream processors start and stop threads, so without a cap a long-running server's
    memory grows by hundreds of MB that it never uses again."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


# The HTTP protocol of --processes' workers, named by import string (each worker
# imports this module; the header timeout comes through the environment).
WorkerProtocol = head_deadline_protocol(float(os.environ.get(HEADER_TIMEOUT_ENV, "10")))
