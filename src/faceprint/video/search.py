"""Search a recorded video against a collection: Rekognition's GetFaceSearch result.

Each tracked person becomes a ``Person.Index`` (the track id). Their appearances are
listed at most every ``every_ms`` milliseconds; once their track is decided, each entry
carries the match (``FaceMatches``), including entries from before the decision, since
the decision is about the whole track (or, after a camera cut put someone else in
the track, about that part of it).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from faceprint import shapes
from faceprint.errors import InvalidParameter
from faceprint.video.backend import Backend
from faceprint.types import Face
from faceprint.video.alerts import Alert, MemorySink
from faceprint.video.sources import Frame, VideoSource
from faceprint.video.stream import tracked_faces
from faceprint.video.watcher import DEFAULT_WATCH_SIMILARITY, Observer, Watcher, WatchSettings

SORT_BY = ("TIMESTAMP", "INDEX")
FACE_ATTRIBUTES = ("DEFAULT", "ALL")


def search_video(
    service: Backend,
    source: VideoSource,
    collection: str,
    *,
    threshold: float = DEFAULT_WATCH_SIMILARITY,
    every_ms: float = 200.0,
    sort_by: str = "TIMESTAMP",
    progress: Callable[[Frame], None] | None = None,
    observer: Observer | None = None,
) -> dict[str, Any]:
    """Run the whole video and return a GetFaceSearch response (JobStatus SUCCEEDED).

    ``observer`` also sees every analysed frame (for example an ``AnnotatedVideo``).

    Example:
        >>> result = search_video(svc, VideoSource("lobby.mp4", pace=False), "staff")   # doctest: +SKIP
        >>> {p["Person"]["Index"] for p in result["Persons"] if p.get("FaceMatches")}
    """
    entries: list[tuple[int, float, Face, tuple[int, int]]] = []
    last_ms: dict[int, float] = {}

    def observe(frame: Frame, tracked: list[tuple[int, Face, Alert | None]]) -> None:
        h, w = frame.pixels.shape[:2]
        for track_id, face, _ in tracked:
            if frame.ms - last_ms.get(track_id, -1e12) >= every_ms:
                last_ms[track_id] = frame.ms
                entries.append((track_id, frame.ms, face, (w, h)))
        if observer is not None:
            observer(frame, tracked)
        if progress is not None:
            progress(frame)

    # Matches come from a sink, not the observer: a track decided while out of sight
    # (or lost) has no frame to report its alert with.
    collected = MemorySink("search")
    watcher = Watcher(service, source, WatchSettings(collection, threshold=threshold), [collected], name=source.source, observer=observe)
    watcher.run()
    collected.close()
    matches: dict[int, list[Alert]] = {}  # a track can change person at a camera cut
    for alert in collected.alerts:
        matches.setdefault(alert.track_id, []).append(alert)
    persons = []
    for track_id, ms, face, wh in entries:
        item: dict[str, Any] = {"Timestamp": int(round(ms)), "Person": {"Index": track_id, "BoundingBox": shapes.face_detail(face, wh)["BoundingBox"], "Face": shapes.face_detail(face, wh)}}
        # the match of the track's segment this appearance belongs to
        alert = max((a for a in matches.get(track_id, []) if a.first_seen_ms <= ms), key=lambda a: a.first_seen_ms, default=None)
        if alert is not None:
            stored = {"FaceId": alert.face_id}
            if alert.external_image_id is not None:
                stored["ExternalImageId"] = alert.external_image_id
            item["FaceMatches"] = [{"Similarity": alert.similarity, "Face": stored}]
        persons.append(item)
    if sort_by == "INDEX":
        persons.sort(key=lambda p: (p["Person"]["Index"], p["Timestamp"]))
    return {**_status(watcher.error), "VideoMetadata": video_metadata(source), "Persons": persons}


def detect_video(
    service: Backend, source: VideoSource, *, every_ms: float = 200.0, attributes: str = "DEFAULT", progress: Callable[[Frame], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Every face in a video, each tracked face listed at most every ``every_ms``: a
    GetFaceDetection response (JobStatus SUCCEEDED).

    ``attributes`` is StartFaceDetection's FaceAttributes: DEFAULT gives each face's
    box, confidence, five landmarks, pose and quality; ALL adds what DetectFaces with
    ALL measures (the dense mesh's landmarks and pose, eyes and mouth open, gaze), for
    the listed faces only.
    """
    if attributes not in FACE_ATTRIBUTES:
        raise InvalidParameter(f"FaceAttributes must be one of {', '.join(FACE_ATTRIBUTES)}")
    analyzer = service.engine.analyzer
    last_ms: dict[int, float] = {}
    faces_out: list[dict[str, Any]] = []
    error = None
    try:
        for item in tracked_faces(source, analyzer.detect):
            frame = item.frame
            h, w = frame.pixels.shape[:2]
            due = []
            for i, track_id in enumerate(item.faces.track_id.tolist()):  # type: ignore[union-attr]
                if frame.ms - last_ms.get(track_id, -1e12) >= every_ms:
                    last_ms[track_id] = frame.ms
                    due.append(i)
            if due:
                listed = item.faces[np.array(due)]
                measured = analyzer.attributes(frame.pixels, listed) if attributes == "ALL" else [None] * len(due)  # type: ignore[arg-type]
                for face, attrs in zip(listed, measured):  # type: ignore[call-overload]
                    faces_out.append({"Timestamp": int(round(frame.ms)), "Face": shapes.face_detail(face, (w, h), attrs, ["ALL"])})
            if progress is not None:
                progress(frame)
    except Exception as exc:  # noqa: BLE001 - the job fails with its reason
        error = f"{type(exc).__name__}: {exc}"
    return {**_status(error), "VideoMetadata": video_metadata(source), "Faces": faces_out}


def video_metadata(source: VideoSource) -> dict[str, Any]:
    stats = source.stats
    return {
        "Codec": stats.codec,
        "DurationMillis": int(round(stats.duration_ms)),
        "Format": stats.format,
        "FrameRate": stats.fps,
        "FrameHeight": stats.height,
        "FrameWidth": stats.width,
    }


def _status(error: str | None) -> dict[str, Any]:
    return {"JobStatus": "FAILED", "StatusMessage": error} if error else {"JobStatus": "SUCCEEDED"}
