"""faceprint watch | video search: live streams against a watch list, recorded video."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

import click

from faceprint.cli.collections import home_option, open_service
from faceprint.cli.common import echo_json, handle_errors
from faceprint.constants import DEFAULT_WATCH_SIMILARITY
from faceprint.errors import InvalidParameter


@click.command("watch")
@click.option("--collection", required=True, help="The watch list.")
@click.option("--source", "sources", multiple=True, required=True, help="A video file, rtsp:// or http:// URL, or camera (/dev/video0, camera:0). Repeat for several streams.")
@click.option("--min-similarity", "--threshold", "min_similarity", default=DEFAULT_WATCH_SIMILARITY, show_default=True, help="Similarity an identity decision must reach (50: 1 false match in 100,000).")
@click.option("--no-pace", is_flag=True, help="Process files as fast as possible instead of at their real-time rate.")
@click.option("--webhook", default=None, help="Also POST each alert here, HMAC-signed with $FACEPRINT_WEBHOOK_SECRET.")
@click.option("--no-crop", is_flag=True, help="Leave the face crop out of the JSON lines on stdout (webhooks still get it).")
@click.option("--max-width", default=960, show_default=True, help="Frames wider than this are scaled down for analysis.")
@click.option("--annotate", "annotate_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Also write each stream, boxed and labelled, to OUT_DIR/<stream>.annotated.mp4.")
@home_option
@handle_errors
def watch(collection: str, sources: tuple[str, ...], min_similarity: float, no_pace: bool, webhook: str | None, no_crop: bool, max_width: int, annotate_dir: Path | None, home: Path | None) -> None:
    """Watch streams against a collection; print one JSON alert per identified person.

    Files end at their end; live streams run until interrupted (Ctrl-C), reconnecting
    when they drop. A summary of each stream goes to stderr at the end.
    """
    from faceprint.video import AnnotatedVideo, JsonLinesSink, Sink, VideoSource, Watcher, WatchSettings, WebhookSink

    secret = os.environ.get("FACEPRINT_WEBHOOK_SECRET")
    if webhook and not secret:
        raise InvalidParameter("--webhook needs FACEPRINT_WEBHOOK_SECRET to sign the alerts")
    sinks: list[Sink] = [JsonLinesSink(sys.stdout, with_crop=not no_crop)]
    if webhook:
        sinks.append(WebhookSink(webhook, secret or ""))
    videos: dict[str, AnnotatedVideo] = {}
    if annotate_dir:
        taken: set[Path] = set()
        for i, src in enumerate(dict.fromkeys(sources)):  # a source given twice is watched once
            path = annotated_path(annotate_dir, src, i)
            if path in taken:  # two files with one name, in different folders
                path = path.with_name(f"{path.name.removesuffix('.annotated.mp4')}-{i + 1}.annotated.mp4")
            taken.add(path)
            videos[src] = AnnotatedVideo(path)
        sources = tuple(videos)
    with open_service(home, collection=collection) as svc:
        watchers = [
            Watcher(svc, VideoSource(src, pace=not no_pace, max_width=max_width), WatchSettings(collection, min_similarity=min_similarity), sinks, name=src, observer=videos.get(src))
            for src in sources
        ]
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        for w in watchers:
            w.start()
        while not stop.wait(0.2) and any(w.running for w in watchers):
            pass
        for w in watchers:
            w.stop()
        for sink in sinks:
            sink.close()
        for video in videos.values():
            video.close()
        for w in watchers:
            report = {**w.report(), "annotated": str(videos[w.name].path)} if w.name in videos else w.report()
            click.echo(json.dumps({"summary": report}, default=str), err=True)


def annotated_path(out_dir: Path, source: str, index: int) -> Path:
    """OUT_DIR/<name>.annotated.mp4, named after a file's stem or a stream's position."""
    from faceprint.video.sources import LIVE_PREFIXES

    local = not source.startswith((*LIVE_PREFIXES, "camera:", "/dev/"))
    return out_dir / f"{Path(source).stem if local else f'stream{index + 1}'}.annotated.mp4"


@click.group("video")
def video_group() -> None:
    """Recorded video."""


@video_group.command("search")
@click.argument("video", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--collection", required=True)
@click.option("--min-similarity", "--threshold", "min_similarity", default=DEFAULT_WATCH_SIMILARITY, show_default=True, help="FaceMatchThreshold: similarity a person's decision must reach.")
@click.option("--json", "as_json", is_flag=True, help="Print Rekognition's GetFaceSearch response shape.")
@click.option("--annotate", "annotate_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Also write the video, boxed and labelled, to OUT_DIR/<name>.annotated.mp4.")
@home_option
@handle_errors
def video_search(video: Path, collection: str, min_similarity: float, as_json: bool, annotate_dir: Path | None, home: Path | None) -> None:
    """Search VIDEO for the people of a collection (each person tracked, decided once)."""
    from tqdm import tqdm

    from faceprint.video import AnnotatedVideo, VideoSource
    from faceprint.video.search import search_video

    annotated = AnnotatedVideo(annotated_path(annotate_dir, str(video), 0)) if annotate_dir else None
    with open_service(home, collection=collection) as svc:
        source = VideoSource(video, pace=False)
        with tqdm(unit="frame", desc=video.name, disable=as_json or not sys.stderr.isatty(), file=sys.stderr) as bar:
            try:
                result = search_video(svc, source, collection, min_similarity=min_similarity, progress=lambda _f: bar.update(), observer=annotated)
            finally:
                if annotated is not None:
                    annotated.close()
    if annotated is not None and not as_json:
        click.echo(f"annotated video: {annotated.path} ({annotated.frames} frames)", err=True)
    if as_json:
        from faceprint.rekognition.shapes import get_face_search

        return echo_json(get_face_search(result))
    found: dict[tuple[int, str], tuple[float, int]] = {}  # (person, who) -> similarity, first time
    for a in result.appearances:
        if a.match is not None:
            found.setdefault((a.track_id, a.match.external_image_id or a.match.face_id), (a.match.similarity, a.timestamp_ms))
    people = {a.track_id for a in result.appearances}
    click.echo(f"{video.name}: {len(people)} tracks, {len(found)} identifications")
    for (index, who), (similarity, ms) in sorted(found.items(), key=lambda kv: kv[1][1]):
        click.echo(f"  track {index}: {who}  similarity {similarity:.1f}  from {ms / 1000:.1f} s")
