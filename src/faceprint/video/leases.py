"""Leases: on a store several processes share, which one runs a stream processor or a
video job. The runner writes ``{"Id", "Heartbeat"}`` into the record's params and renews
the heartbeat; a lease not renewed for its length is free for another process."""

from __future__ import annotations

import time
from typing import Any


def lease(holder: str) -> dict[str, Any]:
    """A lease held by ``holder`` from now (the value of a record's ``Runner``)."""
    return {"Id": holder, "Heartbeat": time.time()}


def held_elsewhere(params: dict[str, Any], holder: str, lease_s: float) -> bool:
    """Whether a record's lease is held, and renewed within ``lease_s``, by a process other
    than ``holder``."""
    runner = params.get("Runner") or {}
    return bool(runner) and runner.get("Id") != holder and time.time() - float(runner.get("Heartbeat", 0.0)) < lease_s


def held_by(params: dict[str, Any], holder: str) -> bool:
    """Whether ``holder`` holds the record's lease (renewed or not)."""
    return (params.get("Runner") or {}).get("Id") == holder
