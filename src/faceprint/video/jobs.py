"""Asynchronous video jobs: StartFaceSearch / StartFaceDetection, then Get...

Jobs run one at a time on a background thread (a video already uses both cores).
Each is recorded in the store when it starts and when it ends, with its result. A
job that a stopped or crashed process left IN_PROGRESS is run again from the start
when the next ``VideoJobs`` opens the store; if its video is gone by then, it fails
with that reason. No job is ever silently lost.

Each access key may have ``VideoLimits.jobs_per_key`` jobs queued or running (more
answer LimitExceededException, as Rekognition does past its concurrent-job limit), and
the next job to run comes from the key served least recently, so one key's backlog
never holds back another key's job. A ClientRequestToken seen before from the same key
returns the job it started.

The core keeps no wire format: the layer that serves the jobs hands ``VideoJobs`` a
``render`` that turns a typed result (``video.results``) into what the job keeps and
its Get... calls page over (the API passes ``faceprint.rekognition.shapes.video_job``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from pathlib import Path
from typing import Any, Callable

from faceprint.errors import InvalidParameter, LimitExceeded, NotFound
from faceprint.store import idempotency
from faceprint.store.video import VideoUpload
from faceprint.video.backend import Backend
from faceprint.video.leases import held_by, held_elsewhere, lease
from faceprint.video.results import VideoFaceDetection, VideoFaceSearch
from faceprint.video.search import detect_video, search_video
from faceprint.video.sources import VideoSource, file_format
from faceprint.video.watcher import DEFAULT_WATCH_SIMILARITY

log = logging.getLogger(__name__)

KINDS = ("FaceSearch", "FaceDetection")
# On a store other processes share, a job is held under a lease its process renews every
# JOB_HEARTBEAT_S; one not renewed for JOB_LEASE_S (its process died) is taken over by
# another process of the same machine.
JOB_HEARTBEAT_S = 5.0
JOB_LEASE_S = 20.0
# A finished job's typed result -> the document the store keeps for the job's readers.
Render = Callable[[VideoFaceSearch | VideoFaceDetection], dict[str, Any]]


class FairQueue:
    """Job ids waiting per access key. :meth:`take` hands out the next job of the key
    served least recently (first come among keys never served), and knows which key's
    job is running, so :meth:`holds` counts a key's queued and running jobs."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: dict[str, deque[str]] = {}
        self._served: dict[str, int] = {}  # key -> turn of its last job
        self._turn = 0
        self._running: str | None = None  # the key whose job runs
        self._closed = False

    def put(self, owner: str, job_id: str) -> None:
        with self._cond:
            self._waiting.setdefault(owner, deque()).append(job_id)
            self._cond.notify()

    def holds(self, owner: str) -> int:
        with self._cond:
            return len(self._waiting.get(owner, ())) + (self._running == owner)

    def take(self) -> str | None:
        """The next job id (its key then counts as running it until :meth:`done`); None
        once closed."""
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            owner = min(self._waiting, key=lambda k: self._served.get(k, -1))
            queue = self._waiting[owner]
            job_id = queue.popleft()
            if not queue:
                del self._waiting[owner]
            self._turn += 1
            self._served[owner], self._running = self._turn, owner
            return job_id

    def done(self) -> None:
        with self._cond:
            self._running = None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class VideoJobs:
    """The job queue and its worker.

    Args:
        service: the backend the jobs run on (its engine and store).
        render: a finished job's result as the document its readers page over; what
            the store keeps (a result kept by an earlier version is served as kept).

    Example:
        >>> from faceprint.rekognition.shapes import video_job
        >>> jobs = VideoJobs(svc, render=video_job)   # doctest: +SKIP
        >>> job_id = jobs.start("FaceDetection", {"Video": video}, owner="FPAK...", path=Path("door.mp4"))   # doctest: +SKIP
    """

    def __init__(self, service: Backend, *, render: Render) -> None:
        self.service = service
        self._render = render
        self._queue = FairQueue()
        self._lock = threading.Lock()  # a key's count and its new job go together
        self._thread = threading.Thread(target=self._run, name="faceprint-video-jobs", daemon=True)
        self.current: str | None = None
        self.node = service.store.node_id
        self.runner = uuid.uuid4().hex[:12]  # this process, among those of the machine
        self._shared = bool(getattr(service.store, "shared", False))
        self._held: set[str] = set()  # jobs queued or running here, whose leases this process renews
        self._closed = threading.Event()
        self._resume(at_start=True)
        self._thread.start()
        self._tender = threading.Thread(target=self._tend, name="faceprint-video-jobs-lease", daemon=True)
        self._tender.start()

    def _resume(self, *, at_start: bool = False) -> None:
        """Queue the interrupted jobs this process should run: at start, every one (the
        embedded store has one server); on a shared store, those queued on this machine
        (its uploads are here) whose lease is not renewed by a live process, claimed one
        by one so that two processes never both take one."""
        if not self._shared and not at_start:
            return
        for record in self.service.store.jobs.interrupted_jobs():
            if record.job_id in self._held:
                continue
            if self._shared and record.params.get("Node", self.node) != self.node:
                continue  # another machine's: running there, or resumed there
            if self._shared and not self.service.store.jobs.update_job(record.job_id, self._claim):
                continue  # a live process holds it
            log.info("resuming an interrupted video job", extra={"job_id": record.job_id})
            self._held.add(record.job_id)
            self._queue.put(record.owner, record.job_id)

    def _claim(self, params: dict[str, Any]) -> dict[str, Any] | None:
        if held_elsewhere(params, self.runner, JOB_LEASE_S):
            return None
        return {**params, "Runner": lease(self.runner)}

    def _tend(self) -> None:
        """Renew the leases of the jobs held here; on a shared store, take over the jobs of
        this machine's processes that died."""
        while not self._closed.wait(JOB_HEARTBEAT_S):
            try:
                for job_id in list(self._held):
                    if not self.service.store.jobs.update_job(job_id, self._renew):
                        self._held.discard(job_id)  # finished (or taken over after a long stall)
                self._resume()
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("renewing video job leases failed")

    def _renew(self, params: dict[str, Any]) -> dict[str, Any] | None:
        return {**params, "Runner": lease(self.runner)} if held_by(params, self.runner) else None

    def start(self, kind: str, params: dict[str, Any], *, owner: str, path: Path | None = None, upload: VideoUpload | None = None, token: str | None = None) -> str:
        """Queue a job over a file (``path``) or an upload; returns its JobId.

        ``params`` are the call's parameters that define the job; a ``token``
        (ClientRequestToken) seen with the same ones from ``owner`` returns the job it
        started.

        Raises:
            InvalidParameter: an unknown kind, a missing file or one that is not a plain
                container. NotFound: the collection. LimitExceeded: ``owner`` has its
                limit of jobs queued or running. IdempotentParameterMismatch: ``token``
                came with other parameters.
        """
        if kind not in KINDS:
            raise InvalidParameter(f"job kind must be one of {', '.join(KINDS)}")
        store = self.service.store
        # where it is queued (and its upload kept), and the process whose lease it is under
        stored = {**params, "Node": self.node, "Runner": lease(self.runner)}
        if upload is not None:
            stored["Upload"] = upload.name
        elif path is not None and path.is_file():
            try:
                stored["Path"], stored["Format"] = str(path), file_format(path)
            except OSError as exc:  # there, but not readable by the server
                raise InvalidParameter(f"the video {path.name} cannot be read: {exc.strerror or exc}") from None
        else:
            raise InvalidParameter(f"no video at {path}")
        if kind == "FaceSearch":
            store.collections.describe(params["CollectionId"])
        request = (token, idempotency.digest(params)) if token is not None else None
        with self._lock:
            if request is not None and (earlier := store.jobs.job_for_token(owner, kind, request)) is not None:
                return earlier.job_id
            limit = store.jobs.limits.jobs_per_key
            if self._queue.holds(owner) >= limit:
                raise LimitExceeded(f"this key has {limit} video jobs queued or running, its limit; start more when they finish")
            job_id = uuid.uuid4().hex
            record = store.jobs.create_job(job_id, kind, stored, owner=owner, token=request)
            if record.job_id == job_id:
                self._held.add(job_id)
                self._queue.put(owner, job_id)
        return record.job_id

    def get(self, job_id: str, kind: str, reader: str | None = None) -> tuple[str, str | None, dict[str, Any] | None, dict[str, Any]]:
        """(status, message, result or None while running, params).

        Args:
            reader: the access key asking, which must be the one that started the job;
                None reads any job (an admin).

        Raises:
            NotFound: no job with that id and kind, or not ``reader``'s.
        """
        record, result = self.service.store.jobs.job(job_id)
        # Job ids travel in audit entries and logs: another key's job is as absent as a
        # missing one, like another key's upload. Jobs from before owners were recorded
        # are an admin's to read.
        if record.kind != kind or (reader is not None and record.owner != reader):
            raise NotFound(f"no {kind} job {job_id}")
        return record.status, record.message, result, record.params

    def close(self, timeout: float = 5.0) -> None:
        self._closed.set()
        self._queue.close()
        self._thread.join(timeout)

    def _source(self, params: dict[str, Any]) -> VideoSource:
        """The job's video, opened only as the container found when it arrived."""
        if "Upload" in params:
            upload, data = self.service.store.jobs.read_upload(params["Upload"])
            return VideoSource(f"uploads/{upload.name}", pace=False, format=upload.format, data=data)
        path = Path(params["Path"])
        if not path.is_file():
            raise InvalidParameter(f"the video {path.name} is no longer there")
        return VideoSource(path, pace=False, format=params.get("Format"))

    def _run(self) -> None:
        while (job_id := self._queue.take()) is not None:
            self.current = job_id
            try:
                record, _ = self.service.store.jobs.job(job_id)
                params = record.params
                source = self._source(params)
                result: VideoFaceSearch | VideoFaceDetection
                if record.kind == "FaceSearch":
                    result = search_video(self.service, source, params["CollectionId"], min_similarity=params.get("FaceMatchThreshold", DEFAULT_WATCH_SIMILARITY))
                else:
                    result = detect_video(self.service, source, attributes=params.get("FaceAttributes", "DEFAULT"))
                self.service.store.jobs.finish_job(job_id, result.status, self._render(result), result.error or None)
            except Exception as exc:  # noqa: BLE001 - the job fails with its reason; the worker goes on
                log.warning("video job failed", extra={"job_id": job_id, "error": str(exc)})
                try:
                    self.service.store.jobs.finish_job(job_id, "FAILED", None, f"{type(exc).__name__}: {exc}")
                except Exception:  # noqa: BLE001 - e.g. the store is closing: the job resumes next time
                    pass
            finally:
                self.current = None
                self._held.discard(job_id)
                self._queue.done()
