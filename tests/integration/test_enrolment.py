"""Enrolment on real photos, through the library: subject folders become faces and users,
and subjects without consent are refused (and reported), never indexed."""

from __future__ import annotations

from pathlib import Path

import pytest

import faceprint as fp
from faceprint.enrolment import EnrolmentReport, ImageEnrolment, enrol

pytestmark = pytest.mark.models
TRAIN = Path("people/face_recognition/examples/knn_examples/train")
PURPOSE = "find people"


@pytest.fixture
def svc(tmp_path, engine, monkeypatch):
    monkeypatch.delenv("FACEPRINT_KEY", raising=False)
    monkeypatch.delenv("FACEPRINT_KEY_FILE", raising=False)
    with fp.Service(tmp_path / "home", engine=engine) as s:
        s.create_collection("watch", purpose=PURPOSE)
        yield s


@pytest.fixture
def people(data) -> list[str]:
    return sorted(p.name for p in (data / TRAIN).iterdir() if p.is_dir())


def test_subjects_without_consent_are_refused_and_nothing_is_stored(svc, data, people):
    report = enrol(svc, "watch", [data / TRAIN])
    images = sum(1 for p in people for _ in (data / TRAIN / p).iterdir())
    assert len(report.images) == images and report.faces_indexed == 0
    assert report.refused == people
    assert report.not_indexed == {"consent_required": images}
    assert all(i.refused and i.error is not None and i.error.code == "consent_required" for i in report.images)
    assert report.errors == [] and report.users == [] and report.users_updated == 0
    info = svc.store.collections.describe("watch")
    assert info.face_count == 0 and info.user_count == 0


def test_consented_subjects_are_indexed_and_grouped_as_users(svc, data, people):
    for person in ("biden", "obama"):
        svc.store.governance.add_consent(person, basis="consent", purpose=PURPOSE)
    seen: list[tuple[int, int, ImageEnrolment | None]] = []
    report = enrol(svc, "watch", [str(data / TRAIN)], progress=lambda done, total, image: seen.append((done, total, image)))

    # each image's subject is its folder's name, and only the consented ones got in
    assert {i.subject for i in report.images} == set(people) and all(i.from_subject_folder for i in report.images)
    assert report.refused == [p for p in people if p not in ("biden", "obama")]
    indexed = [i for i in report.images if i.result is not None]
    assert {i.subject for i in indexed} == {"biden", "obama"}
    assert all(len(i.result.indexed) <= 1 for i in indexed)  # a subject folder keeps the largest face only
    assert report.faces_indexed == sum(len(i.result.indexed) for i in indexed) >= 3
    assert report.errors == []

    # one user per consented subject, holding that subject's new faces
    assert [(u.user_id, u.created, u.updated) for u in report.users] == [("biden", True, True), ("obama", True, True)]
    for user in report.users:
        mine = {f.record.face_id for i in indexed if i.subject == user.user_id for f in i.result.indexed}
        assert set(user.associated) | {f.face_id for f in user.unassociated} == mine
        faces, _ = svc.store.faces.page("watch", user_id=user.user_id)
        assert {f.face_id for f in faces} == set(user.associated) and all(f.external_image_id == user.user_id for f in faces)
    assert report.users_updated == 2 == svc.store.collections.describe("watch").user_count

    # progress: the total first, then every image in order
    assert seen[0] == (0, len(report.images), None)
    assert [(d, image) for d, _, image in seen[1:]] == list(enumerate(report.images, start=1))


def test_enrolling_again_reuses_users_and_users_false_skips_them(svc, data, people):
    for person in people:
        svc.store.governance.add_consent(person, basis="consent", purpose=PURPOSE)
    first = enrol(svc, "watch", [data / TRAIN / "obama"], external_image_id="obama")  # a plain folder: no users
    assert first.users == [] and {i.subject for i in first.images} == {"obama"}
    assert not any(i.from_subject_folder for i in first.images)

    report = enrol(svc, "watch", [data / TRAIN])
    assert report.refused == [] and [u.user_id for u in report.users] == people
    assert all(u.created for u in report.users)
    again = enrol(svc, "watch", [data / TRAIN])
    assert [(u.user_id, u.created) for u in again.users] == [(p, False) for p in people]
    assert again.users_updated == len(people) == svc.store.collections.describe("watch").user_count

    quiet = enrol(svc, "watch", [data / TRAIN / "biden"], external_image_id="biden", users=False)
    assert isinstance(quiet, EnrolmentReport) and quiet.users == [] and quiet.faces_indexed >= 1


def test_a_missing_collection_fails_before_any_image(svc, data):
    seen = []
    with pytest.raises(fp.errors.NotFound):
        enrol(svc, "nowhere", [data / TRAIN], progress=lambda *a: seen.append(a))
    assert seen == []
