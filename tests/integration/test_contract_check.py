"""Every path that searches a collection checks which embedder made its vectors.

A watch list indexed with dlib's ResNet holds 128-d vectors, the same size as the
default SFace engine's: compared, they give numbers that mean nothing. Stream
processors and video searches used to search such a collection without a word (the
service's searches refused it); now they refuse it too, before any frame is read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import faceprint as fp
from faceprint.errors import InvalidParameter
from faceprint.video.alerts import MemorySink
from faceprint.video.sources import VideoSource
from faceprint.video.watcher import Watcher, WatchSettings

pytestmark = pytest.mark.models
EX = Path("people/face_recognition/examples")


@pytest.fixture(scope="module")
def dlib_home(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Path:
    home = tmp_path_factory.mktemp("dlib-home")
    with fp.Engine(embedder="dlib.resnet_v1", workers=1) as engine, fp.Service(home, engine=engine) as svc:
        svc.create_collection("lin", purpose="watch list", consent_required=False)
        svc.index_faces("lin", data / EX / "lin-manuel-miranda.png", external_image_id="lin-manuel-miranda")
    return home


def test_a_stream_refuses_a_watch_list_another_embedder_made(dlib_home: Path, data: Path, engine: fp.Engine) -> None:
    with fp.Service(dlib_home, engine=engine) as svc:
        source = VideoSource(data / EX / "short_hamilton_clip.mp4", pace=False)
        with pytest.raises(InvalidParameter, match="holds dlib.resnet_v1"):
            Watcher(svc, source, WatchSettings("lin"), [MemorySink("collect")])


def test_every_service_search_refuses_it(dlib_home: Path, data: Path, engine: fp.Engine) -> None:
    with fp.Service(dlib_home, engine=engine) as svc:
        face_id = svc.store.faces.page("lin")[0][0].face_id
        with pytest.raises(InvalidParameter, match="holds dlib.resnet_v1"):
            svc.search_faces_by_image("lin", data / EX / "lin-manuel-miranda.png")
        with pytest.raises(InvalidParameter, match="holds dlib.resnet_v1"):
            svc.search_faces("lin", face_id)
        with pytest.raises(InvalidParameter, match="holds dlib.resnet_v1"):
            svc.search_users("lin", face_id=face_id)
