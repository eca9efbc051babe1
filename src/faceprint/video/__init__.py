"""Video: sources (files, streams, cameras), face tracking, per-track identity
decisions, alerts and their sinks, watchers that tie them together, and annotated
output video."""

from faceprint.video.annotate import AnnotatedVideo
from faceprint.video.alerts import Alert, Broadcast, JsonLinesSink, MemorySink, Sink, WebhookSink
from faceprint.video.sources import Frame, VideoSource
from faceprint.video.watcher import DEFAULT_WATCH_SIMILARITY, Decision, Watcher, WatchSettings

__all__ = [
    "AnnotatedVideo", "Alert", "Broadcast", "JsonLinesSink", "MemorySink", "Sink", "WebhookSink", "Frame", "VideoSource",
    "DEFAULT_WATCH_SIMILARITY", "Decision", "Watcher", "WatchSettings",
]  # fmt: skip
