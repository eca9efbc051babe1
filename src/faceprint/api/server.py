"""Run the service with uvicorn: ``faceprint serve`` and ``make serve``."""

from __future__ import annotations

from pathlib import Path

import uvicorn

from faceprint.api.app import create_app
from faceprint.api.config import ServerConfig
from faceprint.api.logs import log_config


def serve(
    config: ServerConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8300,
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
    log_level: str = "info",
) -> None:
    """Serve until interrupted. One process: the store, the replay window and the rate
    limits live in it; inference uses ``config.workers`` threads (all cores)."""
    _limit_malloc_arenas()
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        log_config=log_config(log_level),
        access_log=False,  # the gateway logs each call as JSON, with its operation and result
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives every new thread its own malloc arena and keeps freed memory in it;
    stream processors start and stop threads, so without a cap a long-running server's
    memory grows by hundreds of MB that it never uses again."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass
