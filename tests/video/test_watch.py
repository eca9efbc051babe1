"""Watching real footage: the hamilton clip against a watch list that holds its person,
and against one that does not; the CLI's JSON lines and GetFaceSearch shape."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceprint import Service
from faceprint.video import Alert, MemorySink, VideoSource, Watcher, WatchSettings
from faceprint.video.annotate import MATCHED_RGB
from faceprint.rekognition.shapes import get_face_search
from faceprint.video.search import search_video

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def examples(data: Path) -> Path:
    return data / "people" / "face_recognition" / "examples"


@pytest.fixture(scope="module")
def home(tmp_path_factory, examples: Path) -> Path:
    """Two watch lists: one with Lin-Manuel Miranda among others, one with others only.
    Obama is in the clip's audience and Alex Lacamoire may be on stage: neither is an
    "other" here."""
    home = tmp_path_factory.mktemp("video-home")
    train = examples / "knn_examples" / "train"
    others = [examples / "biden.jpg"] + sorted(p for d in ("biden", "kit_harington", "rose_leslie") for p in (train / d).glob("*.jpg"))
    with Service(home) as svc:
        for name in ("with-lin", "others"):
            svc.create_collection(name, purpose="watch list", consent_required=False)
            for i, photo in enumerate(others):
                svc.index_faces(name, photo, external_image_id=f"other-{i}", max_faces=1)
        svc.index_faces("with-lin", examples / "lin-manuel-miranda.png", external_image_id="lin-manuel-miranda")
    return home


def watch(home: Path, clip: Path, collection: str, **settings: object) -> tuple[list[Alert], Watcher]:
    sink = MemorySink("collect")
    with Service(home) as svc:
        watcher = Watcher(svc, VideoSource(clip, pace=False), WatchSettings(collection, **settings), [sink])  # type: ignore[arg-type]
        watcher.run()
    sink.close()
    return sink.alerts, watcher


def test_the_person_in_the_clip_is_found(home: Path, examples: Path):
    alerts, watcher = watch(home, examples / "short_hamilton_clip.mp4", "with-lin")
    assert alerts and {a.external_image_id for a in alerts} == {"lin-manuel-miranda"}
    alert = alerts[0]
    assert alert.similarity >= 50 and alert.false_match_rate <= 1e-5 and alert.samples >= 2
    crop = cv2.imdecode(np.frombuffer(alert.crop_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None and min(crop.shape[:2]) >= 28
    report = watcher.report()
    assert report["frames_analyzed"] == report["frames_decoded"] > 250 and report["error"] is None
    # a few embeddings per person, not one per face per frame
    assert report["embeddings"] < report["faces"] / 5


def test_nobody_in_the_clip_is_on_the_other_list(home: Path, examples: Path):
    alerts, watcher = watch(home, examples / "short_hamilton_clip.mp4", "others")
    assert alerts == []
    assert watcher.report()["decisions"] > 0  # people were seen and decided: no match


def test_per_track_decisions_raise_fewer_alarms_than_per_frame(home: Path, examples: Path):
    """On the list without him, per-frame matching at a lax threshold is what raises
    false alarms; deciding per track from several frames raises no more."""
    per_track, _ = watch(home, examples / "short_hamilton_clip.mp4", "others", min_similarity=30)
    per_frame, _ = watch(home, examples / "short_hamilton_clip.mp4", "others", min_similarity=30, per_frame=True)
    assert len(per_track) <= len(per_frame)


def _faceprint(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faceprint.cli.main", *args, "--home", str(home)], capture_output=True, text=True, timeout=300)


def test_watch_cli_prints_one_json_alert_per_person(home: Path, examples: Path, tmp_path: Path):
    run = _faceprint(home, "watch", "--collection", "with-lin", "--source", str(examples / "short_hamilton_clip.mp4"), "--no-pace", "--annotate", str(tmp_path))
    assert run.returncode == 0, run.stderr
    alerts = [json.loads(line) for line in run.stdout.splitlines()]
    assert {a["ExternalImageId"] for a in alerts} == {"lin-manuel-miranda"}
    a = alerts[0]
    for key in ("Stream", "Timestamp", "TrackId", "CollectionId", "FaceId", "Similarity", "FalseMatchRate", "FaceModelVersion", "BoundingBox", "FaceCrop", "LatencyMs"):
        assert key in a, key
    assert base64.b64decode(a["FaceCrop"])[:2] == b"\xff\xd8"  # a JPEG
    summary = json.loads(run.stderr.strip().splitlines()[-1])["summary"]
    assert summary["alerts"] == len(alerts) and summary["frames_dropped"] == 0
    assert summary["annotated"] == str(tmp_path / "short_hamilton_clip.annotated.mp4")
    check_annotated(Path(summary["annotated"]), frames=summary["frames_analyzed"], size=(640, 360))


def check_annotated(path: Path, *, frames: int, size: tuple[int, int]) -> None:
    """The annotated video plays, holds every analysed frame at the working size, and
    shows the identified track's green label on some frames, never on the first."""
    import av

    matched = np.array(MATCHED_RGB)
    with av.open(str(path)) as container:
        pictures = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert abs(len(pictures) - frames) <= 2 and pictures[0].shape[1::-1] == size
    green = [int((np.abs(p.astype(int) - matched).sum(axis=2) < 40).sum()) for p in pictures]
    assert green[0] < 50 and sum(g > 200 for g in green) > len(pictures) // 10  # labelled once decided, then kept


def test_video_search_json_is_get_face_search(home: Path, examples: Path):
    with Service(home) as svc:
        found = search_video(svc, VideoSource(examples / "short_hamilton_clip.mp4", pace=False), "with-lin")
    assert found.status == "SUCCEEDED" and found.error is None and found.metadata.width == 640
    assert {a.match.external_image_id for a in found.appearances if a.match is not None} == {"lin-manuel-miranda"}
    result = get_face_search(found)
    assert result["JobStatus"] == "SUCCEEDED" and result["VideoMetadata"]["FrameWidth"] == 640
    assert 9000 <= result["VideoMetadata"]["DurationMillis"] <= 9500
    matched = [p for p in result["Persons"] if p.get("FaceMatches")]
    assert matched and {m["Face"]["ExternalImageId"] for p in matched for m in p["FaceMatches"]} == {"lin-manuel-miranda"}
    stamps = [p["Timestamp"] for p in result["Persons"]]
    assert stamps == sorted(stamps) and all(0 <= p["Person"]["BoundingBox"]["Left"] <= 1 for p in result["Persons"])
    from faceprint.api.model import check_output, operation

    check_output(operation("RekognitionService", "GetFaceSearch"), result)  # botocore's own shape
