"""Video jobs and stream processors, as records that survive a restart.

A job's result (GetFaceSearch / GetFaceDetection's body) is stored compressed once the
job ends; while it runs only its status is stored. On reopen, jobs left IN_PROGRESS
by a process that died are handed back (``interrupted_jobs``) to be run again.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass
from typing import Any, Callable

from faceprint.errors import AlreadyExists, NotFound


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    kind: str  # FaceSearch | FaceDetection
    status: str  # IN_PROGRESS | SUCCEEDED | FAILED
    params: dict[str, Any]
    message: str | None
    created: float
    updated: float


@dataclass(frozen=True)
class ProcessorRecord:
    name: str
    params: dict[str, Any]
    status: str  # STOPPED | STARTING | RUNNING | FAILED | STOPPING
    message: str | None
    created: float
    updated: float


class VideoOps:
    """Job and stream-processor records of :class:`~faceprint.store.Store` (mixed in)."""

    # -- jobs ---------------------------------------------------------------------
    def create_job(self, job_id: str, kind: str, params: dict[str, Any]) -> JobRecord:
        now = time.time()
        with self._tx.write() as c:  # type: ignore[attr-defined]
            c.execute("INSERT INTO video_jobs(job_id, kind, status, params, created, updated) VALUES (?,?,?,?,?,?)", (job_id, kind, "IN_PROGRESS", json.dumps(params), now, now))
            self._audit(c, f"Start{kind}", params.get("CollectionId"), None, 0, {"job_id": job_id})  # type: ignore[attr-defined]
        return JobRecord(job_id, kind, "IN_PROGRESS", params, None, now, now)

    def finish_job(self, job_id: str, status: str, result: dict[str, Any] | None, message: str | None = None) -> None:
        blob = zlib.compress(json.dumps(result).encode()) if result is not None else None
        with self._tx.write() as c:  # type: ignore[attr-defined]
            c.execute("UPDATE video_jobs SET status=?, result=?, message=?, updated=? WHERE job_id=?", (status, blob, message, time.time(), job_id))

    def job(self, job_id: str) -> tuple[JobRecord, dict[str, Any] | None]:
        """Raises NotFound: no such job."""
        with self._tx.read() as c:  # type: ignore[attr-defined]
            row = c.execute("SELECT job_id, kind, status, params, message, created, updated, result FROM video_jobs WHERE job_id=?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no video job {job_id}")
        record = JobRecord(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6])
        return record, (json.loads(zlib.decompress(row[7])) if row[7] is not None else None)

    def interrupted_jobs(self) -> list[JobRecord]:
        with self._tx.read() as c:  # type: ignore[attr-defined]
            rows = c.execute("SELECT job_id, kind, status, params, message, created, updated FROM video_jobs WHERE status='IN_PROGRESS' ORDER BY created").fetchall()
        return [JobRecord(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6]) for r in rows]

    # -- stream processors ------------------------------------------------------------
    def create_processor(self, name: str, params: dict[str, Any]) -> ProcessorRecord:
        now = time.time()
        with self._tx.write() as c:  # type: ignore[attr-defined]
            if c.execute("SELECT 1 FROM stream_processors WHERE name=?", (name,)).fetchone():
                raise AlreadyExists(f"stream processor {name} already exists")
            c.execute("INSERT INTO stream_processors(name, params, status, created, updated) VALUES (?,?,?,?,?)", (name, json.dumps(params), "STOPPED", now, now))
            self._audit(c, "CreateStreamProcessor", params.get("CollectionId"), None, 0, {"processor": name})  # type: ignore[attr-defined]
        return ProcessorRecord(name, params, "STOPPED", None, now, now)

    def processor(self, name: str) -> ProcessorRecord:
        with self._tx.read() as c:  # type: ignore[attr-defined]
            row = c.execute("SELECT name, params, status, message, created, updated FROM stream_processors WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no stream processor {name}")
        return ProcessorRecord(row[0], json.loads(row[1]), row[2], row[3], row[4], row[5])

    def processors(self) -> list[ProcessorRecord]:
        with self._tx.read() as c:  # type: ignore[attr-defined]
            rows = c.execute("SELECT name, params, status, message, created, updated FROM stream_processors ORDER BY name").fetchall()
        return [ProcessorRecord(r[0], json.loads(r[1]), r[2], r[3], r[4], r[5]) for r in rows]

    def set_processor_status(self, name: str, status: str, message: str | None = None) -> None:
        with self._tx.write() as c:  # type: ignore[attr-defined]
            if c.execute("UPDATE stream_processors SET status=?, message=?, updated=? WHERE name=?", (status, message, time.time(), name)).rowcount == 0:
                raise NotFound(f"no stream processor {name}")

    def update_processor(self, name: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> ProcessorRecord:
        """Replace a processor's params with ``change(params)``, read and written in one
        transaction (two concurrent updates never lose one another). ``change`` may raise
        to refuse; nothing is written then.

        Raises:
            NotFound: no such processor.
        """
        now = time.time()
        with self._tx.write() as c:  # type: ignore[attr-defined]
            row = c.execute("SELECT name, params, status, message, created FROM stream_processors WHERE name=?", (name,)).fetchone()
            if row is None:
                raise NotFound(f"no stream processor {name}")
            params = change(json.loads(row[1]))
            c.execute("UPDATE stream_processors SET params=?, updated=? WHERE name=?", (json.dumps(params), now, name))
        return ProcessorRecord(row[0], params, row[2], row[3], row[4], now)

    def delete_processor(self, name: str) -> None:
        with self._tx.write() as c:  # type: ignore[attr-defined]
            if c.execute("DELETE FROM stream_processors WHERE name=?", (name,)).rowcount == 0:
                raise NotFound(f"no stream processor {name}")
            self._audit(c, "DeleteStreamProcessor", None, None, 0, {"processor": name})  # type: ignore[attr-defined]
