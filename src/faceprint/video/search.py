"""Search a recorded video against a collection, or list every face in it: typed
results (``video.results``) that ``faceprint.rekognition.shapes`` renders as
GetFaceSearch and GetFaceDetection.

Each tracked person is known by their track id. Their appearances are listed at most
every ``every_ms`` milliseconds; once their track is decided, each appearance carries
the match, including appearances from before the decision, since the decision is
about the whole track (or, after a camera cut put someone else in the track, about
that part of it).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from faceprint.errors import InvalidParameter
from faceprint.analysis.attributes import FaceAttributes
from faceprint.types import Face
from faceprint.video.backend import Backend
from faceprint.video.alerts import Alert, MemorySink
from faceprint.video.results import FaceAppearance, PersonAppearance, TrackMatch, VideoFaceDetection, VideoFaceSearch, VideoMetadata, status_of
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
    min_similarity: float = DEFAULT_WATCH_SIMILARITY,
    every_ms: float = 200.0,
    sort_by: str = "TIMESTAMP",
    progress: Callable[[Frame], None] | None = None,
    observer: Observer | None = None,
) -> VideoFaceSearch:
    """Run the whole video and return each tracked person's appearances, with matches.

    Args:
        service: the collection's backend (its engine and store).
        source: the video, read without pacing.
        collection: the collection searched.
        min_similarity: FaceMatchThreshold, the similarity a track's decision must reach.
        every_ms: each track is listed at most this often.
        sort_by: TIMESTAMP (appearance order) or INDEX (by track, then time).
        progress: called with every analysed frame.
        observer: also sees every analysed frame (for example an ``AnnotatedVideo``).

    Returns:
        A :class:`VideoFaceSearch`: FAILED with the reason when the video broke off.

    Example:
        >>> result = search_video(svc, VideoSource("lobby.mp4", pace=False), "staff")   # doctest: +SKIP
        >>> {a.track_id for a in result.appearances if a.match is not None}   # doctest: +SKIP
        {3}
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
    watcher = Watcher(service, source, WatchSettings(collection, min_similarity=min_similarity), [collected], name=source.source, observer=observe)
    watcher.run()
    collected.close()
    matches: dict[int, list[Alert]] = {}  # a track can change person at a camera cut
    for alert in collected.alerts:
        matches.setdefault(alert.track_id, []).append(alert)
    appearances = []
    for track_id, ms, face, wh in entries:
        # the match of the track's segment this appearance belongs to
        alert = max((a for a in matches.get(track_id, []) if a.first_seen_ms <= ms), key=lambda a: a.first_seen_ms, default=None)
        match = None if alert is None else TrackMatch(face_id=alert.face_id, external_image_id=alert.external_image_id, similarity=alert.similarity)
        appearances.append(PersonAppearance(timestamp_ms=int(round(ms)), track_id=track_id, face=face, image_wh=wh, match=match))
    if sort_by == "INDEX":
        appearances.sort(key=lambda p: (p.track_id, p.timestamp_ms))
    return VideoFaceSearch(status=status_of(watcher.error), error=watcher.error, metadata=video_metadata(source), appearances=appearances)


def detect_video(
    service: Backend, source: VideoSource, *, every_ms: float = 200.0, attributes: str = "DEFAULT", progress: Callable[[Frame], None] | None = None,
) -> VideoFaceDetection:  # fmt: skip
    """Every face in a video, each tracked face listed at most every ``every_ms``.

    Args:
        service: the backend whose engine detects.
        source: the video, read without pacing.
        every_ms: each track is listed at most this often.
        attributes: StartFaceDetection's FaceAttributes: DEFAULT gives each face's box,
            confidence, five landmarks, pose and quality; ALL also measures what
            DetectFaces with ALL does (the dense mesh's landmarks and pose, eyes and
            mouth open, gaze), for the listed faces only.
        progress: called with every analysed frame.

    Returns:
        A :class:`VideoFaceDetection`: FAILED with the reason when the video broke off.

    Raises:
        InvalidParameter: ``attributes`` is neither DEFAULT nor ALL.

    Example:
        >>> result = detect_video(svc, VideoSource("lobby.mp4", pace=False), attributes="ALL")   # doctest: +SKIP
        >>> result.faces[0].attributes.eyes_open.value   # doctest: +SKIP
        True
    """
    if attributes not in FACE_ATTRIBUTES:
        raise InvalidParameter(f"FaceAttributes must be one of {', '.join(FACE_ATTRIBUTES)}")
    analyzer = service.engine.analyzer
    last_ms: dict[int, float] = {}
    faces_out: list[FaceAppearance] = []
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
                measured: list[FaceAttributes | None] = analyzer.attributes(frame.pixels, listed) if attributes == "ALL" else [None] * len(due)
                for face, attrs in zip(listed, measured):
                    faces_out.append(FaceAppearance(timestamp_ms=int(round(frame.ms)), face=face, image_wh=(w, h), attributes=attrs))
            if progress is not None:
                progress(frame)
    except Exception as exc:  # noqa: BLE001 - the job fails with its reason
        error = f"{type(exc).__name__}: {exc}"
    return VideoFaceDetection(status=status_of(error), error=error, metadata=video_metadata(source), faces=faces_out)


def video_metadata(source: VideoSource) -> VideoMetadata:
    """What the decoder found in ``source`` (read once it has been played).

    Example:
        >>> video_metadata(source).duration_ms   # doctest: +SKIP
        9333
    """
    stats = source.stats
    return VideoMetadata(codec=stats.codec, duration_ms=int(round(stats.duration_ms)), format=stats.format, fps=stats.fps, height=stats.height, width=stats.width)
