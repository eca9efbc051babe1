"""Regions of interest (only faces more than half inside a region are searched) and a
session's start and stop points, on the watcher that stream processors run."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from faceprint import Service
from faceprint.errors import InvalidParameter
from faceprint.video import MemorySink, VideoSource, Watcher, WatchSettings
from faceprint.video.regions import inside, parse

BOX = {"BoundingBox": {"Left": 0.5, "Top": 0.0, "Width": 0.5, "Height": 1.0}}  # the right half
TRIANGLE = {"Polygon": [{"X": 0.0, "Y": 0.0}, {"X": 1.0, "Y": 0.0}, {"X": 0.0, "Y": 1.0}]}  # above the anti-diagonal


def test_a_face_counts_when_more_than_half_of_its_box_is_in_a_region():
    regions = parse([BOX, TRIANGLE])
    boxes = np.array(
        [
            [0.70, 0.40, 0.80, 0.50],  # wholly in the right half
            [0.45, 0.80, 0.60, 0.90],  # two thirds in the right half
            [0.35, 0.80, 0.50, 0.90],  # left half, below the diagonal: in neither
            [0.10, 0.10, 0.20, 0.20],  # in the triangle
            [0.44, 0.45, 0.54, 0.65],  # 40% in the right half, 30% in the triangle: in no one region
        ]
    )
    assert inside(boxes, regions).tolist() == [True, True, False, True, False]
    assert inside(boxes, []).all()  # no regions: the whole frame


@pytest.mark.parametrize(
    ("regions", "where"),
    [
        ([{}], "RegionsOfInterest[0]"),
        ([{**BOX, **TRIANGLE}], "RegionsOfInterest[0]"),
        ([{"BoundingBox": {"Left": 0.1, "Top": 0.1, "Width": 0.2}}], "RegionsOfInterest[0].BoundingBox.Height"),
        ([BOX, {"BoundingBox": {"Left": 0.9, "Top": 0.1, "Width": 0.2, "Height": 0.2}}], "RegionsOfInterest[1].BoundingBox"),
        ([{"BoundingBox": {"Left": 0.1, "Top": 0.1, "Width": 0.0, "Height": 0.2}}], "RegionsOfInterest[0].BoundingBox"),
        ([{"Polygon": TRIANGLE["Polygon"][:2]}], "RegionsOfInterest[0].Polygon"),
        ([{"Polygon": [{"X": 0.1, "Y": 0.1}] * 11}], "RegionsOfInterest[0].Polygon"),
        ([{"Polygon": [{"X": 0.1, "Y": 0.1}, {"X": 0.2, "Y": 0.2}, {"X": 0.3, "Y": 0.3}]}], "RegionsOfInterest[0].Polygon"),  # no area
        ([{"Polygon": [{"X": 0.1, "Y": 0.1}, {"X": 1.2, "Y": 0.2}, {"X": 0.3, "Y": 0.9}]}], "RegionsOfInterest[0].Polygon[1]"),
        ([{"Polygon": [{"X": 0.1}, {"X": 0.2, "Y": 0.2}, {"X": 0.3, "Y": 0.9}]}], "RegionsOfInterest[0].Polygon[0].Y"),
    ],
)
def test_regions_that_are_not_areas_of_the_frame_are_refused_by_name(regions, where):
    with pytest.raises(InvalidParameter) as exc:
        parse(regions)
    assert where in str(exc.value)


# -- on real footage ------------------------------------------------------------------
pytest_data = pytest.mark.data


@pytest.fixture(scope="module")
def watch_list(tmp_path_factory, data: Path) -> tuple[Path, Path]:
    examples = data / "people" / "face_recognition" / "examples"
    home = tmp_path_factory.mktemp("regions-home")
    with Service(home) as svc:
        svc.create_collection("lin", purpose="watch list", consent_required=False)
        svc.index_faces("lin", examples / "lin-manuel-miranda.png", external_image_id="lin-manuel-miranda")
    return home, examples / "short_hamilton_clip.mp4"


def run(watch_list: tuple[Path, Path], **settings: object) -> tuple[list, dict]:
    """Watch the clip. Similarity 40 unless a test says otherwise: Lin-Manuel's first,
    small appearance scores 49.8 under the region calibration (his kind of face needs a
    higher cosine than LFW's average), and these tests are about where and when, not how
    sure."""
    settings.setdefault("min_similarity", 40.0)
    home, clip = watch_list
    sink = MemorySink("collect")
    with Service(home) as svc:
        watcher = Watcher(svc, VideoSource(clip, pace=False), WatchSettings("lin", **settings), [sink])  # type: ignore[arg-type]
        watcher.run()
    sink.close()
    return sink.alerts, watcher.report()


@pytest_data
def test_only_faces_in_a_region_are_searched(watch_list):
    """Lin-Manuel is found twice in the clip: from the first frame at the top right
    (Left 0.82, Top 0.13), and from 2.7 s in the left half (x 0.23 to 0.5, Top 0.05 to 0.24)."""
    top_right = parse([{"BoundingBox": {"Left": 0.7, "Top": 0.0, "Width": 0.3, "Height": 0.5}}])
    found, report = run(watch_list, regions=top_right)
    assert found and all(a.first_seen_ms < 1000 for a in found)
    assert report["faces_outside_regions"] > 0 and report["embeddings"] < report["faces"]
    left = parse([{"Polygon": [{"X": 0.0, "Y": 0.0}, {"X": 0.65, "Y": 0.0}, {"X": 0.65, "Y": 1.0}, {"X": 0.0, "Y": 1.0}]}])
    found, _ = run(watch_list, regions=left)
    assert found and all(a.first_seen_ms > 2000 for a in found)


@pytest_data
def test_a_session_stops_after_its_duration_and_starts_at_its_time(watch_list):
    _, whole = run(watch_list)
    _, second = run(watch_list, max_duration_s=1.0)
    assert whole["frames_analyzed"] > 200 and 20 <= second["frames_analyzed"] <= 35  # one second of a 29.97 fps clip
    # the clip decodes in far less than a minute: every frame comes before the start
    _, later = run(watch_list, starts_at=time.time() + 60)
    assert later["frames_analyzed"] == 0 and later["frames_before_start"] == whole["frames_decoded"]
    _, past = run(watch_list, starts_at=time.time() - 60)
    assert past["frames_analyzed"] == whole["frames_analyzed"]
