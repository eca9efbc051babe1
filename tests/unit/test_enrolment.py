"""faceprint.enrolment's bookkeeping over a fake service: which images go under which
subject, refusals versus errors, user creation and association batches."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterable, Iterator

import pytest

from faceprint.enrolment import ASSOCIATE_BATCH, enrol
from faceprint.errors import ConsentRequired, FaceprintError, InvalidImage, NotFound, ServiceQuotaExceeded
from faceprint.types import IndexedFace, IndexResult, UnindexedFace


class FakeEngine:
    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        for item in items:  # like Engine.map: in order, errors returned rather than raised
            try:
                yield fn(item)
            except FaceprintError as exc:
                yield exc


class FakeService:
    """IndexFaces stores ``faces`` faces per image (and leaves one out as LOW_CONFIDENCE);
    subjects in ``refuse`` lack consent, and so does an image without a subject when
    ``consent`` is set; ``.txt`` files are not images."""

    def __init__(self, *, faces: int = 1, refuse: tuple[str, ...] = (), consent: bool = False, users: tuple[str, ...] = (), full: tuple[str, ...] = ()) -> None:
        self.engine = FakeEngine()
        self.faces, self.refuse, self.consent, self.full = faces, refuse, consent, full
        self.users = list(users)
        self.indexed: list[tuple[str, str | None, int | None, str]] = []
        self.created: list[str] = []
        self.batches: list[tuple[str, int]] = []
        self.next_id = 0
        # the store's parts enrolment reads directly
        self.store = SimpleNamespace(collections=SimpleNamespace(describe=self.describe_collection), users=SimpleNamespace(page=self.list_users, create=self.create_user))

    def describe_collection(self, name: str) -> object:
        if name != "c":
            raise NotFound(f"collection {name} does not exist")
        return object()

    def index_faces(self, name: str, image: Path, *, external_image_id: str | None, max_faces: int | None, quality_filter_level: str) -> IndexResult:
        self.indexed.append((image.name, external_image_id, max_faces, quality_filter_level))
        if external_image_id in self.refuse or (self.consent and external_image_id is None):
            raise ConsentRequired("no consent")
        if image.suffix == ".txt":
            raise InvalidImage("not an image")
        faces = []
        for _ in range(self.faces):
            self.next_id += 1
            faces.append(IndexedFace(SimpleNamespace(face_id=f"f{self.next_id}"), None))  # type: ignore[arg-type]
        return IndexResult(faces, [UnindexedFace(["LOW_CONFIDENCE"], None)], (10, 10), "m")  # type: ignore[arg-type]

    def list_users(self, name: str, *, next_token: str | None = None) -> tuple[list[Any], str | None]:
        # one user per page, to show that every page is read
        i = int(next_token or 0)
        page = [SimpleNamespace(user_id=u) for u in self.users[i : i + 1]]
        return page, (str(i + 1) if i + 1 < len(self.users) else None)

    def create_user(self, name: str, user_id: str) -> None:
        self.created.append(user_id)

    def associate_faces(self, name: str, user_id: str, face_ids: list[str]) -> tuple[list[str], list[tuple[str, str | None, float | None, str]]]:
        self.batches.append((user_id, len(face_ids)))
        if user_id in self.full and len(self.batches) > 1:
            raise ServiceQuotaExceeded(f"user {user_id} is full")
        return face_ids[1:], [(face_ids[0], user_id, 12.5, "LOW_MATCH_CONFIDENCE")]


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    for rel in ["people/ann/1.jpg", "people/ann/2.jpg", "people/ann/notes.md", "people/bob/1.png", "loose/a.jpg", "loose/b.jpg", "one.jpg", "bad.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    return tmp_path


def test_subject_folders_name_their_images_and_keep_one_face_each(folders: Path) -> None:
    svc = FakeService()
    report = enrol(svc, "c", [folders / "people", folders / "one.jpg"], external_image_id="zed", quality_filter="HIGH")  # type: ignore[arg-type]
    assert [(i.path.name, i.subject, i.from_subject_folder) for i in report.images] == [
        ("1.jpg", "ann", True), ("2.jpg", "ann", True), ("1.png", "bob", True), ("one.jpg", "zed", False),
    ]  # fmt: skip
    # with a subject folder among the paths, every image keeps its largest face only
    assert {(m, q) for _, _, m, q in svc.indexed} == {(1, "HIGH")}
    assert report.faces_indexed == 4 and report.not_indexed == {"LOW_CONFIDENCE": 4}


def test_plain_folders_and_files_keep_every_face_unless_told(folders: Path) -> None:
    svc = FakeService(faces=2)
    report = enrol(svc, "c", [folders / "loose", str(folders / "one.jpg")])  # type: ignore[arg-type]
    assert [(i.path.name, i.subject) for i in report.images] == [("a.jpg", None), ("b.jpg", None), ("one.jpg", None)]
    assert {m for _, _, m, _ in svc.indexed} == {None} and report.faces_indexed == 6
    assert report.users == [] and svc.created == []  # no subject folder, no users
    enrol(svc, "c", [folders / "loose"], max_faces=3)  # type: ignore[arg-type]
    assert svc.indexed[-1][2] == 3


def test_refusals_are_subjects_and_other_failures_are_errors(folders: Path) -> None:
    svc = FakeService(refuse=("bob",), consent=True)
    report = enrol(svc, "c", [folders / "people", folders / "one.jpg", folders / "bad.txt"], external_image_id=None)  # type: ignore[arg-type]
    assert report.refused == ["bob"]
    # an image without a subject that a consent-bound collection turns away is the call's error
    assert [(i.path.name, i.error.code) for i in report.errors if i.error] == [("one.jpg", "consent_required"), ("bad.txt", "consent_required")]
    assert report.not_indexed == {"LOW_CONFIDENCE": 2, "consent_required": 3}
    svc = FakeService()
    report = enrol(svc, "c", [folders / "bad.txt", folders / "missing.jpg"], external_image_id="x")  # type: ignore[arg-type]
    assert [i.error.code for i in report.errors if i.error] == ["invalid_image"]
    assert report.images[1].result is not None  # the fake reads nothing; the real IndexFaces says invalid_parameter


def test_users_are_created_once_and_fed_in_batches(folders: Path) -> None:
    svc = FakeService(faces=ASSOCIATE_BATCH, users=("x", "ann"))  # ann exists (on the second page)
    report = enrol(svc, "c", [folders / "people"])  # type: ignore[arg-type]
    assert svc.created == ["bob"]
    assert svc.batches == [("ann", 100), ("ann", 100), ("bob", 100)]
    ann, bob = report.users
    assert (ann.user_id, ann.created, ann.updated, len(ann.associated)) == ("ann", False, True, 198)
    assert [(f.reason, f.similarity) for f in ann.unassociated] == [("LOW_MATCH_CONFIDENCE", 12.5)] * 2
    assert (bob.user_id, bob.created, bob.updated) == ("bob", True, True) and report.users_updated == 2


def test_a_user_that_fails_keeps_its_faces_indexed(folders: Path) -> None:
    svc = FakeService(faces=ASSOCIATE_BATCH, full=("ann",))
    report = enrol(svc, "c", [folders / "people"])  # type: ignore[arg-type]
    ann, bob = report.users
    assert ann.created and not ann.updated and isinstance(ann.error, ServiceQuotaExceeded)
    assert len(ann.associated) == 99  # the first batch went through before the limit
    assert bob.updated and report.users_updated == 1
    assert report.faces_indexed == 300
    assert enrol(svc, "c", [folders / "people"], users=False).users == []  # type: ignore[arg-type]


def test_a_missing_collection_is_an_error_before_any_image(folders: Path) -> None:
    svc = FakeService()
    with pytest.raises(NotFound):
        enrol(svc, "nope", [folders / "people"])  # type: ignore[arg-type]
    assert svc.indexed == []
