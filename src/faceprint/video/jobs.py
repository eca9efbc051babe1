"""Asynchronous video jobs: StartFaceSearch / StartFaceDetection, then Get...

Jobs run one at a time on a background thread (a video already uses both cores).
Each is recorded in the store when it starts and when it ends, with its result. A
job that a stopped or crashed process left IN_PROGRESS is run again from the start
when the next ``VideoJobs`` opens the store; if its video is gone by then, it fails
with that reason. No job is ever silently lost.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from pathlib import Path
from typing import Any

from faceprint.errors import InvalidParameter, NotFound
from faceprint.video.backend import Backend
from faceprint.video.search import detect_video, search_video
from faceprint.video.sources import VideoSource
from faceprint.video.watcher import DEFAULT_WATCH_SIMILARITY

log = logging.getLogger(__name__)

KINDS = ("FaceSearch", "FaceDetection")


class VideoJobs:
    def __init__(self, service: Backend) -> None:
        self.service = service
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="faceprint-video-jobs", daemon=True)
        self.current: str | None = None
        for record in service.store.interrupted_jobs():
            log.info("resuming an interrupted video job", extra={"job_id": record.job_id})
            self._queue.put(record.job_id)
        self._thread.start()

    def start(self, kind: str, path: Path, params: dict[str, Any]) -> str:
        """Queue a job; returns its JobId.

        Raises:
            InvalidParameter: an unknown kind or a missing file. NotFound: the collection.
        """
        if kind not in KINDS:
            raise InvalidParameter(f"job kind must be one of {', '.join(KINDS)}")
        if not path.is_file():
            raise InvalidParameter(f"no video at {path}")
        if kind == "FaceSearch":
            self.service.store.describe_collection(params["CollectionId"])
        job_id = uuid.uuid4().hex
        self.service.store.create_job(job_id, kind, {**params, "Path": str(path)})
        self._queue.put(job_id)
        return job_id

    def get(self, job_id: str, kind: str) -> tuple[str, str | None, dict[str, Any] | None, dict[str, Any]]:
        """(status, message, result or None while running, params).

        Raises:
            NotFound: no job with that id and kind.
        """
        record, result = self.service.store.job(job_id)
        if record.kind != kind:
            raise NotFound(f"no {kind} job {job_id}")
        return record.status, record.message, result, record.params

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (job_id := self._queue.get()) is not None:
            self.current = job_id
            try:
                record, _ = self.service.store.job(job_id)
                params = record.params
                path = Path(params["Path"])
                if not path.is_file():
                    raise InvalidParameter(f"the video {path.name} is no longer there")
                source = VideoSource(path, pace=False)
                if record.kind == "FaceSearch":
                    result = search_video(self.service, source, params["CollectionId"], threshold=params.get("FaceMatchThreshold", DEFAULT_WATCH_SIMILARITY))
                else:
                    result = detect_video(self.service, source)
                status = result.pop("JobStatus")
                self.service.store.finish_job(job_id, status, result, result.pop("StatusMessage", None))
            except Exception as exc:  # noqa: BLE001 - the job fails with its reason; the worker goes on
                log.warning("video job failed", extra={"job_id": job_id, "error": str(exc)})
                try:
                    self.service.store.finish_job(job_id, "FAILED", None, f"{type(exc).__name__}: {exc}")
                except Exception:  # noqa: BLE001 - e.g. the store is closing: the job resumes next time
                    pass
            finally:
                self.current = None
