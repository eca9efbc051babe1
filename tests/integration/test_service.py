"""The collection verbs on real photos: index with consent, search, users, erasure."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import faceprint as fp
from faceprint.rekognition import shapes
from faceprint.errors import ConsentRequired, NoFaceFound

pytestmark = pytest.mark.models
EX = Path("people/face_recognition/examples")
REASONS = {"EXCEEDS_MAX_FACES", "EXTREME_POSE", "LOW_BRIGHTNESS", "LOW_SHARPNESS", "LOW_CONFIDENCE", "SMALL_BOUNDING_BOX", "LOW_FACE_QUALITY"}


@pytest.fixture
def svc(tmp_path, engine, monkeypatch):
    monkeypatch.delenv("FACEPRINT_KEY", raising=False)
    monkeypatch.delenv("FACEPRINT_KEY_FILE", raising=False)
    with fp.Service(tmp_path / "home", engine=engine) as s:
        yield s


@pytest.fixture
def watchlist(svc, data):
    """knn_examples/train indexed with consent, one user per person."""
    svc.create_collection("watch", purpose="demo watch list")
    train = data / EX / "knn_examples/train"
    for person in sorted(p.name for p in train.iterdir() if p.is_dir()):
        svc.store.governance.add_consent(person, basis="consent", purpose="demo watch list")
        svc.store.users.create("watch", person)
        ids = []
        for img in sorted((train / person).iterdir()):
            result = svc.index_faces("watch", img, external_image_id=person, max_faces=1)
            ids += [f.record.face_id for f in result.indexed]
        svc.associate_faces("watch", person, ids)
    return svc


def test_search_by_image_finds_the_right_people(watchlist, data):
    for probe, person in [("obama2.jpg", "obama"), ("biden.jpg", "biden")]:
        found = watchlist.search_faces_by_image("watch", data / EX / probe)
        assert found.matches, probe
        assert {m.face.external_image_id for m in found.matches} == {person}
        assert all(m.match.similarity >= 40 for m in found.matches)
        doc = shapes.search_faces(found)
        assert set(doc) == {"FaceMatches", "FaceModelVersion", "SearchedFaceBoundingBox", "SearchedFaceConfidence"}
        assert set(doc["FaceMatches"][0]["Face"]) >= {"FaceId", "BoundingBox", "ImageId", "ExternalImageId", "Confidence", "UserId"}


def test_search_users_by_image_scores_templates(watchlist, data):
    found = watchlist.search_users_by_image("watch", data / EX / "knn_examples/test/obama_and_biden.jpg")
    assert found.matches and found.matches[0].user.user_id in {"obama", "biden"}
    assert len(found.unsearched) == len(watchlist.engine.detect(data / EX / "knn_examples/test/obama_and_biden.jpg")) - 1 >= 1
    doc = shapes.search_users(found)
    assert doc["UnsearchedFaces"][0]["Reasons"] == ["FACE_NOT_LARGEST"]
    by_id = watchlist.search_users("watch", user_id="obama")
    assert all(m.user.user_id != "obama" for m in by_id.matches)


def test_index_refuses_subjects_without_consent(watchlist, data):
    with pytest.raises(ConsentRequired):
        watchlist.index_faces("watch", data / EX / "obama.jpg", external_image_id="stranger")
    with pytest.raises(ConsentRequired):
        watchlist.index_faces("watch", data / EX / "obama.jpg")


def test_revoking_consent_removes_the_person_from_search(watchlist, data):
    assert watchlist.store.governance.revoke_consent("obama") >= 1
    found = watchlist.search_faces_by_image("watch", data / EX / "obama2.jpg")
    assert all(m.face.external_image_id != "obama" for m in found.matches)


def test_index_faces_max_faces_and_quality_filter(svc, data):
    svc.create_collection("open", purpose="tests", consent_required=False)
    result = svc.index_faces("open", data / EX / "two_people.jpg", max_faces=1)
    assert len(result.indexed) == 1 and [u.reasons for u in result.unindexed] == [["EXCEEDS_MAX_FACES"]]
    largest = max(result.indexed[0].detail.quality.size_px, *(u.detail.quality.size_px for u in result.unindexed))
    assert result.indexed[0].detail.quality.size_px == largest
    pixels = fp.load_image(data / EX / "obama.jpg")
    blurred = cv2.GaussianBlur(pixels, (0, 0), 6)
    soft = svc.index_faces("open", blurred, quality_filter_level="HIGH")
    assert not soft.indexed and "LOW_SHARPNESS" in soft.unindexed[0].reasons
    dim = (pixels * 0.12).astype(np.uint8)
    dark = svc.index_faces("open", dim, quality_filter_level="MEDIUM")
    assert not dark.indexed and "LOW_BRIGHTNESS" in dark.unindexed[0].reasons
    assert all(set(u.reasons) <= REASONS for u in soft.unindexed + dark.unindexed)
    kept = svc.index_faces("open", blurred, quality_filter_level="NONE")
    assert len(kept.indexed) == 1
    doc = shapes.index_faces(soft)
    assert set(doc) == {"FaceRecords", "FaceModelVersion", "UnindexedFaces"}
    assert {lm["Type"] for lm in doc["UnindexedFaces"][0]["FaceDetail"]["Landmarks"]} == {"eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"}


def test_search_needs_a_face(svc):
    svc.create_collection("open", purpose="tests", consent_required=False)
    with pytest.raises(NoFaceFound) as err:
        svc.search_faces_by_image("open", np.full((200, 200, 3), 127, np.uint8))
    assert err.value.aws_code == "InvalidParameterException"


def test_search_faces_by_face_id_leaves_the_query_out(svc, data):
    svc.create_collection("open", purpose="tests", consent_required=False)
    a = svc.index_faces("open", data / EX / "obama.jpg").indexed[0].record
    b = svc.index_faces("open", data / EX / "obama2.jpg").indexed[0].record
    svc.index_faces("open", data / EX / "biden.jpg")
    found = svc.search_faces("open", a.face_id)
    assert [m.face.face_id for m in found.matches] == [b.face_id]
    assert shapes.search_faces(found)["SearchedFaceId"] == a.face_id


@pytest.mark.parametrize("kw", [{"min_similarity": 101}, {"min_similarity": -1}, {"min_similarity": "high"}, {"max_faces": 0}, {"max_faces": 5000}, {"quality_filter_level": "BEST"}])
def test_search_arguments_out_of_range(svc, data, kw):
    svc.create_collection("open", purpose="tests", consent_required=False)
    with pytest.raises(fp.InvalidParameter):
        svc.search_faces_by_image("open", data / EX / "obama.jpg", **kw)


def test_compare_is_audited(svc, data):
    svc.compare_faces(data / EX / "obama.jpg", data / EX / "obama2.jpg")
    assert svc.store.audit.entries(action="CompareFaces")[-1].count == 1
