"""Enrolment: index folders of subjects into a collection, one user per subject.

A folder laid out as ``DIR/<subject>/<images>`` enrols each image's largest face under
ExternalImageId ``<subject>`` and associates the new faces with the user ``<subject>``
(created if missing). Image files, and folders without subject folders, are indexed
as they are, under the ExternalImageId given (if any). Every image goes through
:meth:`Service.index_faces`, so the collection's consent rule, quality filter and
embedding contract apply as for one IndexFaces call; one bad image never stops the rest.

Example:
    >>> from faceprint import Service                                 # doctest: +SKIP
    >>> from faceprint.enrolment import enrol
    >>> with Service() as svc:  # doctest: +SKIP
    ...     report = enrol(svc, "staff", ["photos/"])                   # photos/<name>/*.jpg
    >>> report.faces_indexed, report.refused, report.users_updated  # doctest: +SKIP
    (9, [], 5)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from faceprint.errors import FaceprintError
from faceprint.gallery import person_images
from faceprint.imaging.decode import IMAGE_SUFFIXES

if TYPE_CHECKING:
    from faceprint.types import IndexResult
    from faceprint.service import Service

ASSOCIATE_BATCH = 100  # AssociateFaces takes at most 100 face ids per call


@dataclass(frozen=True, eq=False)
class ImageEnrolment:
    """What enrolment did with one image.

    Attributes:
        path: the image file.
        subject: the ExternalImageId its faces were indexed under (its subject folder's
            name, or the one given), or None.
        from_subject_folder: the image came from ``DIR/<subject>/``, so its faces join
            the user ``<subject>``.
        result: what IndexFaces did with it; None when the image failed.
        error: why the image failed (``error.code`` says how), or None.
    """

    path: Path
    subject: str | None
    from_subject_folder: bool
    result: IndexResult | None = None
    error: FaceprintError | None = None

    @property
    def refused(self) -> bool:
        """The subject has no valid consent for the collection's purpose.

        An image without a subject that a consent-bound collection turns away is an
        error of the call instead (it lacks the ExternalImageId), not a refusal.
        """
        return self.error is not None and self.error.code == "consent_required" and self.subject is not None


@dataclass(frozen=True)
class UnassociatedFace:
    """A new face left out of its subject's user (AssociateFaces's UnsuccessfulFaceAssociations).

    Attributes:
        face_id: the face, which stays indexed.
        user_id: the user it belongs to (another one for ``ASSOCIATED_TO_A_DIFFERENT_USER``), or None.
        similarity: its similarity to the user, 0-100, where one was measured.
        reason: e.g. ``LOW_MATCH_CONFIDENCE``.
    """

    face_id: str
    user_id: str | None
    similarity: float | None
    reason: str


@dataclass(frozen=True, eq=False)
class UserEnrolment:
    """One subject's user: created if missing, then given the subject's new faces.

    Attributes:
        user_id: the subject.
        created: the user did not exist and was created.
        associated: face ids now tied to the user.
        unassociated: new faces the user turned away (they stay indexed).
        error: why the user could not be created or given its faces (e.g. a user's
            100-face limit), or None; the faces stay indexed either way.
    """

    user_id: str
    created: bool
    associated: list[str] = field(default_factory=list)
    unassociated: list[UnassociatedFace] = field(default_factory=list)
    error: FaceprintError | None = None

    @property
    def updated(self) -> bool:
        """Every association call for the user went through (single faces may still be turned away)."""
        return self.error is None


@dataclass(frozen=True, eq=False)
class EnrolmentReport:
    """What :func:`enrol` did, image by image and user by user.

    Attributes:
        collection: the collection enrolled into.
        images: one entry per image, in the order enrolled.
        users: one entry per subject folder with new faces (empty with ``users=False``).
    """

    collection: str
    images: list[ImageEnrolment]
    users: list[UserEnrolment]

    @property
    def faces_indexed(self) -> int:
        """Faces stored, over all images."""
        return sum(len(i.result.indexed) for i in self.images if i.result is not None)

    @property
    def not_indexed(self) -> dict[str, int]:
        """How often each thing kept a face or image out, sorted by name: a face's
        Rekognition reason (``LOW_CONFIDENCE``, ``EXCEEDS_MAX_FACES``...) counts once per
        face, an image's error code (``consent_required``, ``invalid_image``...) once per image."""
        counts: Counter[str] = Counter()
        for image in self.images:
            if image.error is not None:
                counts[image.error.code] += 1
            elif image.result is not None:
                counts.update(why for face in image.result.unindexed for why in face.reasons)
        return dict(sorted(counts.items()))

    @property
    def refused(self) -> list[str]:
        """Subjects turned away for want of valid consent, sorted."""
        return sorted({i.subject for i in self.images if i.refused and i.subject is not None})

    @property
    def errors(self) -> list[ImageEnrolment]:
        """Images that failed for any reason other than a subject's missing consent."""
        return [i for i in self.images if i.error is not None and not i.refused]

    @property
    def users_updated(self) -> int:
        """Users whose association calls all went through."""
        return sum(u.updated for u in self.users)


# progress(done, total, image): once with (0, total, None) when the work starts, then
# after each image with that image's entry
Progress = Callable[[int, int, ImageEnrolment | None], None]


def enrol(
    service: Service,
    collection: str,
    paths: Iterable[str | Path],
    *,
    external_image_id: str | None = None,
    max_faces: int | None = None,
    quality_filter: str = "AUTO",
    users: bool = True,
    progress: Progress | None = None,
) -> EnrolmentReport:
    """Index images and subject folders into a collection, and group each subject's faces as a user.

    Args:
        service: the service whose store and engine do the work (the engine must make
            the collection's embeddings).
        collection: the collection to enrol into; it must exist.
        paths: image files, folders of images (searched recursively) and folders laid
            out as ``DIR/<subject>/<images>``.
        external_image_id: the subject of the images that are not in a subject folder.
        max_faces: keep the N largest faces per image; default 1 (the subject) when any
            path is a subject folder, every face otherwise.
        quality_filter: IndexFaces's QualityFilter: NONE, AUTO, LOW, MEDIUM or HIGH.
        users: create a user per subject folder (if missing) and associate its new faces.
        progress: called as ``progress(0, total, None)`` when the work starts, then as
            ``progress(done, total, image)`` after each image, in order.

    Returns:
        The report: each image's IndexFaces result or error (consent refusals among
        them), and each subject's user.

    Raises:
        NotFound: no such collection.
        InvalidParameter: a folder of subject folders holds no images.

    Example:
        >>> report = enrol(svc, "staff", ["photos/"], quality_filter="HIGH")   # doctest: +SKIP
        >>> for image in report.errors:  # doctest: +SKIP
        ...     print(image.path, image.error.code)
    """
    jobs = _plan(paths, external_image_id)
    service.store.collections.describe(collection)  # fail fast on a missing collection
    # a subject folder's images show their subject: the largest face is theirs, others are passers-by
    per_image_max = max_faces if max_faces is not None else (1 if any(j.from_subject_folder for j in jobs) else None)

    def index(job: ImageEnrolment) -> IndexResult:
        return service.index_faces(collection, job.path, external_image_id=job.subject, max_faces=per_image_max, quality_filter_level=quality_filter)

    if progress is not None:
        progress(0, len(jobs), None)
    images: list[ImageEnrolment] = []
    for job, outcome in zip(jobs, service.engine.map(index, jobs)):
        if isinstance(outcome, FaceprintError):
            image = ImageEnrolment(job.path, job.subject, job.from_subject_folder, error=outcome)
        else:
            image = ImageEnrolment(job.path, job.subject, job.from_subject_folder, result=outcome)
        images.append(image)
        if progress is not None:
            progress(len(images), len(jobs), image)
    return EnrolmentReport(collection, images, _associate(service, collection, images) if users else [])


def _plan(paths: Iterable[str | Path], external_image_id: str | None) -> list[ImageEnrolment]:
    """The images to enrol, in order, each with its subject (no result yet)."""
    jobs: list[ImageEnrolment] = []
    for p in map(Path, paths):
        if p.is_dir() and any(c.is_dir() for c in p.iterdir()):
            jobs.extend(ImageEnrolment(img, person, True) for person, img in person_images(p))
        elif p.is_dir():
            jobs.extend(ImageEnrolment(img, external_image_id, False) for img in sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()))
        else:
            # a file is taken as given: if it is missing or no image, IndexFaces says so for it
            jobs.append(ImageEnrolment(p, external_image_id, False))
    return jobs


def _associate(service: Service, collection: str, images: list[ImageEnrolment]) -> list[UserEnrolment]:
    """Create a user per subject folder (if missing) and associate its new faces."""
    by_subject: dict[str, list[str]] = {}
    for image in images:
        if image.from_subject_folder and image.subject is not None and image.result is not None and image.result.indexed:
            by_subject.setdefault(image.subject, []).extend(f.record.face_id for f in image.result.indexed)
    existing: set[str] = set()
    token = None
    while True:
        page, token = service.store.users.page(collection, next_token=token)
        existing |= {u.user_id for u in page}
        if token is None:
            break
    out: list[UserEnrolment] = []
    for subject, face_ids in by_subject.items():
        created = False
        associated: list[str] = []
        unassociated: list[UnassociatedFace] = []
        try:
            if subject not in existing:
                service.store.users.create(collection, subject)
                created = True
            for i in range(0, len(face_ids), ASSOCIATE_BATCH):
                done, failed = service.associate_faces(collection, subject, face_ids[i : i + ASSOCIATE_BATCH])
                associated += done
                unassociated += [UnassociatedFace(fid, uid, sim, why) for fid, uid, sim, why in failed]
        except FaceprintError as exc:  # e.g. a user's 100-face limit: the faces stay indexed
            out.append(UserEnrolment(subject, created, associated, unassociated, exc))
            continue
        out.append(UserEnrolment(subject, created, associated, unassociated))
    return out
