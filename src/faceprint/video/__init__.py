"""Video: sources (files, streams, cameras), face tracking, per-track identity
decisions, alerts and their sinks, and watchers that tie them together."""

from faceprint.video.alerts import Alert, Broadcast, JsonLinesSink, Sink, WebhookSink
from faceprint.video.sources import Frame, VideoSource
from faceprint.video.watcher import DEFAULT_WATCH_SIMILARITY, Decision, Watcher, WatchSettings

__all__ = [
    "Alert", "Broadcast", "JsonLinesSink", "Sink", "WebhookSink", "Frame", "VideoSource",
    "DEFAULT_WATCH_SIMILARITY", "Decision", "Watcher", "WatchSettings",
]  # fmt: skip
