"""Video jobs, uploaded videos and stream processors, as records that survive a restart.

A job's result (GetFaceSearch / GetFaceDetection's body) is stored once the job ends,
compressed and sealed with the store key; while it runs only its status is stored.
Search results name the people identified, so erasure reaches them: whenever faces are
erased (EraseSubject, RevokeConsent, DeleteCollection, a retention purge), every entry
of a stored result whose match names a face no longer stored goes too, in the same
transaction, and a job that ends later never stores one. Finished jobs are kept
``VideoLimits.results_days``, then erased.

Uploaded videos (UploadVideo) are files in ``<home>/uploads`` named by the store,
sealed like results, recorded with the key that sent them and the container format
found at upload. They expire after ``VideoLimits.upload_hours`` (refused from then on,
erased by the store's retention timer), and each key has ``upload_quota_mb`` of them.

On reopen, jobs left IN_PROGRESS by a process that died are handed back
(``interrupted_jobs``) to be run again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from faceprint.errors import EncryptionKeyError, InvalidParameter, LimitExceeded, NotFound, ResourceInUse, StorageError
from faceprint.store import idempotency
from faceprint.store.audit_log import AuditLog
from faceprint.store.crypto import Cipher
from faceprint.store.db import Transactions

UPLOADS_FOLDER = "uploads"
_SEALED = b"\x01"  # first byte of a sealed result; results from before sealing are zlib (0x78)
_STRAY_GRACE_S = 3600.0  # a file in the uploads folder without a record, younger than this, may be an upload in flight


@dataclass(frozen=True)
class VideoLimits:
    """How long video data is kept and how much of it one access key may hold. Each
    is read from the environment variable named beside it when a store first needs it."""

    results_days: float = 7.0  # FACEPRINT_VIDEO_RESULTS_DAYS: finished jobs' results
    upload_hours: float = 24.0  # FACEPRINT_UPLOAD_HOURS: uploaded videos
    upload_quota_mb: float = 512.0  # FACEPRINT_UPLOAD_QUOTA_MB: unexpired uploads per key
    jobs_per_key: int = 8  # FACEPRINT_VIDEO_JOBS_PER_KEY: queued or running jobs per key

    @classmethod
    def from_env(cls) -> VideoLimits:
        """The limits, each from its environment variable where set, else its default.

        Raises:
            InvalidParameter: a variable is set to something other than a positive number.

        Example:
            >>> VideoLimits.from_env().jobs_per_key   # doctest: +SKIP
            8
        """
        values: dict[str, Any] = {}
        for name, var in (("results_days", "FACEPRINT_VIDEO_RESULTS_DAYS"), ("upload_hours", "FACEPRINT_UPLOAD_HOURS"), ("upload_quota_mb", "FACEPRINT_UPLOAD_QUOTA_MB"), ("jobs_per_key", "FACEPRINT_VIDEO_JOBS_PER_KEY")):
            text = os.environ.get(var)
            if not text:
                continue
            try:
                value = int(text) if name == "jobs_per_key" else float(text)
            except ValueError:
                value = 0
            if not value > 0:
                raise InvalidParameter(f"{var} must be a positive number, not {text!r}")
            values[name] = value
        return cls(**values)


@dataclass(frozen=True)
class JobRecord:
    """A video job as stored (its result, sealed, is read with :meth:`Jobs.job`)."""

    job_id: str
    kind: str  # FaceSearch | FaceDetection
    status: str  # IN_PROGRESS | SUCCEEDED | FAILED
    params: dict[str, Any]
    message: str | None
    created: float
    updated: float
    owner: str = ""  # the access key that started it


@dataclass(frozen=True)
class VideoUpload:
    """An uploaded video's record (its bytes are read with :meth:`Jobs.read_upload`)."""

    name: str  # the store's; the file in the uploads folder
    owner: str  # the access key that sent it
    format: str  # its container, found at upload (sources.CONTAINERS)
    size: int  # bytes on disk
    created: float
    expires: float


@dataclass(frozen=True)
class ProcessorRecord:
    """A stream processor's record: its CreateStreamProcessor parameters and last status."""

    name: str
    params: dict[str, Any]
    status: str  # STOPPED | STARTING | RUNNING | FAILED | STOPPING
    message: str | None
    created: float
    updated: float


_JOB_COLUMNS = "job_id, kind, status, params, message, created, updated, owner"


class Jobs:
    """Job, upload and stream-processor records: the video part of a store.

    Args:
        home: the store folder (uploads live in its ``uploads`` folder).
        tx: the store's transactions.
        cipher: seals results and uploads.
        audit: the audit writer.

    Example:
        >>> store.jobs.create_job(job_id, "FaceDetection", {"Video": {...}})  # doctest: +SKIP
        >>> store.jobs.finish_job(job_id, "SUCCEEDED", {"Faces": []})         # doctest: +SKIP
    """

    def __init__(self, home: Path, tx: Transactions, cipher: Cipher, audit: AuditLog) -> None:
        self.home = home
        self._tx = tx
        self._cipher = cipher
        self._audit = audit
        self._limits: VideoLimits | None = None

    @property
    def limits(self) -> VideoLimits:
        """The retention and quotas, read from the environment on first use unless set."""
        if self._limits is None:
            self._limits = VideoLimits.from_env()
        return self._limits

    @limits.setter
    def limits(self, limits: VideoLimits) -> None:
        self._limits = limits

    # -- jobs ---------------------------------------------------------------------
    def create_job(self, job_id: str, kind: str, params: dict[str, Any], *, owner: str = "", token: tuple[str, str] | None = None) -> JobRecord:
        """Record a new job, or, when ``token`` (ClientRequestToken, digest of the call's
        parameters) was seen from ``owner`` for this kind, return that job instead.

        Raises:
            IdempotentParameterMismatch: the token came with other parameters.
        """
        now = time.time()
        with self._tx.write() as c:
            if token is not None:
                earlier = self._job_for_token(c, owner, kind, token, now)
                if earlier is not None:
                    return earlier
                idempotency.remember(c, owner, f"Start{kind}", token[0], token[1], job_id, now)
            c.execute(
                "INSERT INTO video_jobs(job_id, kind, status, params, created, updated, owner) VALUES (?,?,?,?,?,?,?)",
                (job_id, kind, "IN_PROGRESS", json.dumps(params), now, now, owner),
            )
            self._audit.write(c, f"Start{kind}", params.get("CollectionId"), None, 0, {"job_id": job_id})
        return JobRecord(job_id, kind, "IN_PROGRESS", params, None, now, now, owner)

    def job_for_token(self, owner: str, kind: str, token: tuple[str, str]) -> JobRecord | None:
        """The job an earlier call with this ClientRequestToken started, if any.

        Raises:
            IdempotentParameterMismatch: the token came with other parameters.
        """
        with self._tx.write() as c:
            return self._job_for_token(c, owner, kind, token, time.time())

    def _job_for_token(self, c: sqlite3.Connection, owner: str, kind: str, token: tuple[str, str], now: float) -> JobRecord | None:
        job_id = idempotency.recall(c, owner, f"Start{kind}", token[0], token[1], now)
        if job_id is None:
            return None
        row = c.execute(f"SELECT {_JOB_COLUMNS} FROM video_jobs WHERE job_id=?", (job_id,)).fetchone()
        if row is None:  # erased by retention: the token starts a new job
            idempotency.forget(c, owner, f"Start{kind}", token[0])
            return None
        return _job(row)

    def finish_job(self, job_id: str, status: str, result: dict[str, Any] | None, message: str | None = None) -> None:
        """Store a job's end: its status, its result sealed, and why it failed.

        Matches of faces erased while the job ran are left out of the stored result.

        Args:
            job_id: the job.
            status: ``SUCCEEDED`` or ``FAILED``.
            result: the Get* response body, or None (a failed job).
            message: the StatusMessage a caller sees.
        """
        with self._tx.write() as c:
            if result is not None:
                # faces erased while the job ran must not come back through its result
                result = _without_erased(c, result) or result
            blob = _seal_result(self._cipher, result, job_id) if result is not None else None
            c.execute("UPDATE video_jobs SET status=?, result=?, message=?, updated=? WHERE job_id=?", (status, blob, message, time.time(), job_id))

    def job(self, job_id: str) -> tuple[JobRecord, dict[str, Any] | None]:
        """A job and its result (None while it runs, or if it failed without one).

        Raises:
            NotFound: no such job (or its results were erased by retention).
        """
        with self._tx.read() as c:
            row = c.execute(f"SELECT {_JOB_COLUMNS}, result FROM video_jobs WHERE job_id=?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no video job {job_id}")
        return _job(row), (_open_result(self._cipher, row[8], job_id) if row[8] is not None else None)

    def update_job(self, job_id: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> bool:
        """Replace an unfinished job's params with ``change(params)``, read and written in
        one transaction; ``change`` returns None to leave them (a claim refused).

        Returns:
            Whether the params were written (False: finished, gone, or refused).
        """
        with self._tx.write() as c:
            row = c.execute("SELECT params FROM video_jobs WHERE job_id=? AND status='IN_PROGRESS'", (job_id,)).fetchone()
            if row is None:
                return False
            params = change(json.loads(row[0]))
            if params is None:
                return False
            c.execute("UPDATE video_jobs SET params=? WHERE job_id=?", (json.dumps(params), job_id))
        return True

    def interrupted_jobs(self) -> list[JobRecord]:
        """Jobs still IN_PROGRESS, oldest first: at startup, those a process that died
        left behind, to be run again."""
        with self._tx.read() as c:
            rows = c.execute(f"SELECT {_JOB_COLUMNS} FROM video_jobs WHERE status='IN_PROGRESS' ORDER BY created").fetchall()
        return [_job(r) for r in rows]

    # -- uploaded videos ----------------------------------------------------------
    def save_upload(self, data: bytes, *, owner: str, format: str) -> VideoUpload:
        """Keep a video for ``owner`` under a new name, sealed.

        Args:
            data: the video's bytes.
            owner: the access key sending it (the quota and later reads are per key).
            format: its container, as found by the caller.

        Returns:
            The record; its ``name`` is what later calls give.

        Raises:
            LimitExceeded: the key's unexpired uploads would pass its quota.
            StorageError: the file could not be written (a full disk, say).
        """
        try:
            return self._save_upload(data, owner=owner, format=format)
        except OSError as exc:  # a full disk, a folder another hand made unwritable
            raise StorageError(f"the upload could not be stored: {exc.strerror or exc}") from None

    def _save_upload(self, data: bytes, *, owner: str, format: str) -> VideoUpload:
        folder = self._uploads_folder()
        name = uuid.uuid4().hex
        blob = self._cipher.seal_data(data, name)
        now = time.time()
        quota = int(self.limits.upload_quota_mb * 1024 * 1024)
        partial, final = folder / f".{name}.tmp", folder / name
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
                f.flush()
                os.fsync(f.fileno())
            with self._tx.write() as c:
                used = c.execute("SELECT COALESCE(SUM(bytes), 0) FROM video_uploads WHERE owner=? AND expires>?", (owner, now)).fetchone()[0]
                if used + len(blob) > quota:
                    raise LimitExceeded(
                        f"this key's uploads would hold {(used + len(blob)) / 2**20:.1f} MB, over its quota of {quota / 2**20:g} MB; "
                        "they are erased when they expire (ExpiresAt)"
                    )
                record = VideoUpload(name, owner, format, len(blob), now, now + self.limits.upload_hours * 3600)
                c.execute("INSERT INTO video_uploads(name, owner, format, bytes, created, expires) VALUES (?,?,?,?,?,?)", (name, owner, format, record.size, now, record.expires))
                os.replace(partial, final)  # inside the transaction: a failed commit leaves a stray file, erased by the purge
        finally:
            partial.unlink(missing_ok=True)
        return record

    def upload(self, name: str, *, owner: str) -> VideoUpload:
        """The record of one of ``owner``'s uploads (another key's is not found).

        Raises:
            NotFound: ``owner`` has no unexpired upload of that name.
        """
        with self._tx.read() as c:
            row = c.execute("SELECT name, owner, format, bytes, created, expires FROM video_uploads WHERE name=? AND owner=? AND expires>?", (name, owner, time.time())).fetchone()
        if row is None:
            raise NotFound(f"no upload {name} (uploads are kept until their ExpiresAt, for the key that sent them)")
        return VideoUpload(*row)

    def read_upload(self, name: str) -> tuple[VideoUpload, bytes]:
        """An unexpired upload and its bytes, opened.

        Raises:
            NotFound: no such upload, or it expired.
        """
        with self._tx.read() as c:
            row = c.execute("SELECT name, owner, format, bytes, created, expires FROM video_uploads WHERE name=? AND expires>?", (name, time.time())).fetchone()
        if row is None:
            raise NotFound(f"the upload {name} has expired and was erased")
        try:
            blob = (self._uploads_folder() / name).read_bytes()
        except OSError:
            raise NotFound(f"the upload {name} is no longer there") from None
        return VideoUpload(*row), self._cipher.open_data(blob, name)

    def _uploads_folder(self) -> Path:
        folder: Path = self.home / UPLOADS_FOLDER
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)  # a folder made by an older version or another hand
        return folder

    # -- retention -------------------------------------------------------------------
    def purge_video_data(self) -> int:
        """Erase finished jobs past their retention, expired uploads (records and files)
        and files in the uploads folder that no record names, and forget client tokens
        past their window; seal results stored in plaintext by older versions. Returns
        how many jobs and uploads were erased."""
        now = time.time()
        limits = self.limits
        cutoff = now - limits.results_days * 86400
        with self._tx.read() as c:
            stale = c.execute("SELECT COUNT(*) FROM video_jobs WHERE status!='IN_PROGRESS' AND updated<?", (cutoff,)).fetchone()[0]
            expired = [r[0] for r in c.execute("SELECT name FROM video_uploads WHERE expires<=?", (now,))]
            plain = c.execute("SELECT COUNT(*) FROM video_jobs WHERE result IS NOT NULL AND substr(result, 1, 1)!=?", (_SEALED,)).fetchone()[0]
            tokens = c.execute("SELECT COUNT(*) FROM request_tokens WHERE created<?", (now - idempotency.TOKEN_HOURS * 3600,)).fetchone()[0]
        if stale or expired or plain or tokens:  # a read-only store can still be opened
            with self._tx.write() as c:
                stale = c.execute("DELETE FROM video_jobs WHERE status!='IN_PROGRESS' AND updated<?", (cutoff,)).rowcount
                expired = [r[0] for r in c.execute("SELECT name FROM video_uploads WHERE expires<=?", (now,))]
                c.execute("DELETE FROM video_uploads WHERE expires<=?", (now,))
                for job_id, blob in c.execute("SELECT job_id, result FROM video_jobs WHERE result IS NOT NULL AND substr(result, 1, 1)!=?", (_SEALED,)).fetchall():
                    c.execute("UPDATE video_jobs SET result=? WHERE job_id=?", (_seal_result(self._cipher, _open_result(self._cipher, blob, job_id), job_id), job_id))
                idempotency.forget_older(c, now)
                if stale or expired:
                    self._audit.write(c, "PurgeVideo", None, None, stale + len(expired), {"jobs": stale, "uploads": len(expired)})
        folder = self.home / UPLOADS_FOLDER
        if folder.is_dir():
            with self._tx.read() as c:
                live = {r[0] for r in c.execute("SELECT name FROM video_uploads")}
            for path in folder.iterdir():
                try:
                    if path.name in live or not path.is_file() or (path.name not in expired and path.stat().st_mtime > now - _STRAY_GRACE_S):
                        continue
                    path.unlink()
                except OSError:
                    continue  # gone meanwhile, or not ours to remove: the next purge tries again
        if stale or plain:
            self._tx.checkpoint()
        return int(stale) + len(expired)

    # -- stream processors ------------------------------------------------------------
    def create_processor(self, name: str, params: dict[str, Any]) -> ProcessorRecord:
        """Record a new stream processor, ``STOPPED``.

        Raises:
            ResourceInUse: a processor of that name exists.
        """
        now = time.time()
        with self._tx.write() as c:
            if c.execute("SELECT 1 FROM stream_processors WHERE name=?", (name,)).fetchone():
                raise ResourceInUse(f"stream processor {name} already exists")  # Rekognition's code for a taken name
            c.execute("INSERT INTO stream_processors(name, params, status, created, updated) VALUES (?,?,?,?,?)", (name, json.dumps(params), "STOPPED", now, now))
            self._audit.write(c, "CreateStreamProcessor", params.get("CollectionId"), None, 0, {"processor": name})
        return ProcessorRecord(name, params, "STOPPED", None, now, now)

    def processor(self, name: str) -> ProcessorRecord:
        """Raises:
            NotFound: no such processor.
        """
        with self._tx.read() as c:
            row = c.execute("SELECT name, params, status, message, created, updated FROM stream_processors WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no stream processor {name}")
        return ProcessorRecord(row[0], json.loads(row[1]), row[2], row[3], row[4], row[5])

    def processors(self) -> list[ProcessorRecord]:
        """Every stream processor, by name."""
        with self._tx.read() as c:
            rows = c.execute("SELECT name, params, status, message, created, updated FROM stream_processors ORDER BY name").fetchall()
        return [ProcessorRecord(r[0], json.loads(r[1]), r[2], r[3], r[4], r[5]) for r in rows]

    def set_processor_status(self, name: str, status: str, message: str | None = None) -> None:
        """Set a processor's status and the message a caller sees (why it failed or stopped).

        Raises:
            NotFound: no such processor.
        """
        with self._tx.write() as c:
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
        with self._tx.write() as c:
            row = c.execute("SELECT name, params, status, message, created FROM stream_processors WHERE name=?", (name,)).fetchone()
            if row is None:
                raise NotFound(f"no stream processor {name}")
            params = change(json.loads(row[1]))
            c.execute("UPDATE stream_processors SET params=?, updated=? WHERE name=?", (json.dumps(params), now, name))
        return ProcessorRecord(row[0], params, row[2], row[3], row[4], now)

    def announce_streams(self, server_id: str, streams: list[str]) -> None:
        """Record that ``server_id`` has these streams now (renewed while it runs)."""
        with self._tx.write(durable=False) as c:
            c.execute(
                "INSERT INTO stream_hosts(server_id, streams, heartbeat) VALUES (?,?,?) "
                "ON CONFLICT(server_id) DO UPDATE SET streams=excluded.streams, heartbeat=excluded.heartbeat",
                (server_id, json.dumps(sorted(streams)), time.time()),
            )
            c.execute("DELETE FROM stream_hosts WHERE heartbeat < ?", (time.time() - 3600.0,))

    def announced_streams(self, within_s: float) -> set[str]:
        """The streams some server announced within the last ``within_s`` seconds."""
        with self._tx.read() as c:
            rows = c.execute("SELECT streams FROM stream_hosts WHERE heartbeat >= ?", (time.time() - within_s,)).fetchall()
        return {name for row in rows for name in json.loads(row[0])}

    def delete_processor(self, name: str) -> None:
        """Delete a processor's record (stopping its watcher is the caller's job).

        Raises:
            NotFound: no such processor.
        """
        with self._tx.write() as c:
            if c.execute("DELETE FROM stream_processors WHERE name=?", (name,)).rowcount == 0:
                raise NotFound(f"no stream processor {name}")
            self._audit.write(c, "DeleteStreamProcessor", None, None, 0, {"processor": name})


def drop_erased_matches(c: sqlite3.Connection, cipher: Cipher) -> None:
    """Take out of every stored search result the entries whose match names a face
    no longer stored. Call it inside the transaction that erased faces.

    Args:
        c: the connection of the write transaction that erased faces.
        cipher: the store's cipher (results are sealed).

    Example:
        >>> drop_erased_matches(c, cipher)          # doctest: +SKIP
    """
    rows = c.execute("SELECT job_id, result FROM video_jobs WHERE kind='FaceSearch' AND result IS NOT NULL").fetchall()
    for job_id, blob in rows:
        try:
            result = _open_result(cipher, blob, job_id)
        except (EncryptionKeyError, zlib.error, ValueError):
            # A result that cannot be read cannot be shown to be clean: it goes, rather
            # than blocking every erasure (and the store's opening purge) after it.
            c.execute("UPDATE video_jobs SET status='FAILED', result=NULL, message=? WHERE job_id=?", ("its result could not be read and was erased", job_id))
            continue
        kept = _without_erased(c, result)
        if kept is not None:
            c.execute("UPDATE video_jobs SET result=? WHERE job_id=?", (_seal_result(cipher, kept, job_id), job_id))


def _seal_result(cipher: Cipher, result: dict[str, Any], job_id: str) -> bytes:
    return _SEALED + cipher.seal_data(zlib.compress(json.dumps(result).encode()), job_id)


def _open_result(cipher: Cipher, blob: bytes, job_id: str) -> dict[str, Any]:
    if blob[:1] != _SEALED:  # stored before results were sealed; sealed by the next purge
        return dict(json.loads(zlib.decompress(blob)))
    return dict(json.loads(zlib.decompress(cipher.open_data(blob[1:], job_id))))


def _job(row: tuple[Any, ...]) -> JobRecord:
    return JobRecord(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6], row[7] or "")


def _without_erased(c: sqlite3.Connection, result: dict[str, Any]) -> dict[str, Any] | None:
    """``result`` without the entries whose match names a face no longer stored (their
    times and boxes say where that person was), or None if every named face is stored."""
    persons = result.get("Persons") or []
    named = sorted({m["Face"]["FaceId"] for p in persons for m in p.get("FaceMatches", [])})
    stored: set[str] = set()
    for i in range(0, len(named), 500):
        batch = named[i : i + 500]
        stored.update(r[0] for r in c.execute(f"SELECT face_id FROM faces WHERE face_id IN ({','.join('?' * len(batch))})", batch))
    if len(stored) == len(named):
        return None
    return {**result, "Persons": [p for p in persons if all(m["Face"]["FaceId"] in stored for m in p.get("FaceMatches", []))]}
