"""Typed records the store hands out: collections, faces, users, search hits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from faceprint.types.faces import Box


@dataclass(frozen=True)
class CollectionInfo:
    """A collection and its rules.

    Attributes:
        purpose: what the collection is for; every search records it.
        consent_required: IndexFaces needs a valid consent record per subject.
        max_age_days: faces older than this are purged automatically (None: kept).
        model: the embedding contract of every vector in it (FaceModelVersion).
    """

    name: str
    purpose: str
    consent_required: bool
    max_age_days: float | None
    model: str
    created: float
    face_count: int = 0
    user_count: int = 0


@dataclass(frozen=True)
class StoredFace:
    """One indexed face (never its embedding)."""

    face_id: str
    image_id: str
    external_image_id: str | None
    user_id: str | None
    box: Box
    confidence: float
    indexed: float


@dataclass(frozen=True, eq=False)
class NewFace:
    """A face to add: its unit embedding and where it was found."""

    embedding: np.ndarray
    box: Box
    confidence: float
    image_id: str
    external_image_id: str | None = None


@dataclass(frozen=True)
class FaceHit:
    """A search result: a stored face, its exact cosine to the query and its embedding
    (so the caller can calibrate the pair: the rate depends on both faces)."""

    face: StoredFace
    cosine: float
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class UserInfo:
    """A user: a person's faces grouped under one id. ``status`` is CREATED until a face
    is associated, then ACTIVE (Rekognition's UserStatus values)."""

    user_id: str
    status: str
    face_count: int


@dataclass(frozen=True)
class UserHit:
    """A user search result: the cosine of the query to the user's template (the
    normalised mean of all its faces' embeddings)."""

    user: UserInfo
    cosine: float
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)
