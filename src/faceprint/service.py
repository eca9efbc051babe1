"""Rekognition's collection verbs over an Engine and a Store.

This is the API the CLI and the HTTP service call: images in, typed results out, every
operation checked, consented and audited by the store underneath.

Example:
    >>> from faceprint import Service                               # doctest: +SKIP
    >>> with Service() as svc:
    ...     svc.create_collection("staff", purpose="door access", consent_required=False)
    ...     svc.index_faces("staff", "alice.jpg", external_image_id="alice")
    ...     hits = svc.search_faces_by_image("staff", "door-camera.jpg").matches
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import numpy as np

from faceprint.analysis import quality_filter
from faceprint.engine import DEFAULT_MIN_SIMILARITY, Engine, check_similarity
from faceprint.errors import InvalidParameter, NoFaceFound, NotFound
from faceprint.imaging import ImageSource, box_fractions
from faceprint.types import CollectionInfo, Comparison, Face, FaceSearch, Faces, IndexResult, IndexedFace, NewFace, UnindexedFace, UserHit, UserMatch, UserSearch
from faceprint.store import Store, StoreBackend, validate
from faceprint.search import check_contract, probe_bar, search_collection

DEFAULT_MAX_FACES = 10


class Service:
    """Collections, faces and users, searched with calibrated scores.

    Args:
        home: the store folder (default ``$FACEPRINT_HOME`` or ``~/.faceprint``).
        engine: the engine whose embeddings the collections hold (default: fast mode).
        store: a store to use instead of opening the one at ``home`` (its owner
            closes it and runs its retention).
        actor: who is acting, for the audit log.
        purge_every_s: how often expired faces are erased while the service is open
            (searches never return them in between); None to purge only on open.
    """

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        engine: Engine | None = None,
        store: StoreBackend | None = None,
        actor: str | None = None,
        purge_every_s: float | None = 3600.0,
    ) -> None:
        self._owns_engine = engine is None
        self.engine = engine or Engine()
        self._owns_store = store is None
        self.store: StoreBackend = store if store is not None else Store(home, actor=actor)
        if purge_every_s and self._owns_store:
            self.store.start_retention(purge_every_s)

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store and the engine, those this service made."""
        if self._owns_store:
            self.store.close()
        if self._owns_engine:
            self.engine.close()

    @property
    def model(self) -> str:
        """The embedding contract of this engine (Rekognition's FaceModelVersion)."""
        return self.engine.analyzer.embedder.contract

    # -- collections -----------------------------------------------------------
    def create_collection(
        self, collection: str, *, purpose: str, consent_required: bool = True, max_age_days: float | None = None, tags: dict[str, str] | None = None
    ) -> CollectionInfo:
        """Create a collection for one declared purpose, holding this engine's embeddings."""
        return self.store.collections.create(collection, purpose=purpose, model=self.model, consent_required=consent_required, max_age_days=max_age_days, tags=tags)

    # -- faces -----------------------------------------------------------------
    def index_faces(
        self,
        collection: str,
        image: ImageSource,
        *,
        external_image_id: str | None = None,
        max_faces: int | None = None,
        quality_filter_level: str = "AUTO",
    ) -> IndexResult:
        """IndexFaces: detect the faces of an image and store those good enough.

        Args:
            external_image_id: the subject the faces belong to; collections that
                require consent need it, with a valid consent record.
            max_faces: keep only this many of the largest faces that pass the filter
                (the rest are returned with ``EXCEEDS_MAX_FACES``).
            quality_filter_level: NONE, AUTO, LOW, MEDIUM or HIGH.

        Raises:
            NotFound: no such collection. ConsentRequired: the subject lacks consent.
            InvalidImage, ImageTooLarge, InvalidParameter: bad input.
        """
        if external_image_id is not None:
            validate.external_image_id(external_image_id)
        if max_faces is not None:
            validate.count(max_faces, "MaxFaces", 1, 4096)
        level = quality_filter.check_level(quality_filter_level)
        self._check_model(collection)
        pixels = self.engine.load(image)
        faces = self.engine.analyzer.detect(pixels)
        keep, unindexed = [], []
        for i, face in enumerate(faces):
            why = quality_filter.reasons(face, level)
            if why:
                unindexed.append(UnindexedFace(why, face))
            elif max_faces is not None and len(keep) >= max_faces:
                unindexed.append(UnindexedFace(["EXCEEDS_MAX_FACES"], face))
            else:
                keep.append(i)
        indexed: list[IndexedFace] = []
        h, w = pixels.shape[:2]
        if keep:
            kept = self.engine.analyzer.embed(pixels, faces[np.array(keep)])
            image_id = str(uuid.uuid4())
            new = [NewFace(kept.embedding[j], box_fractions(f.xyxy, (w, h)), _confidence(f), image_id, external_image_id) for j, f in enumerate(kept)]  # type: ignore[index]
            records = self.store.faces.add(collection, new, model=self.model)
            indexed = [IndexedFace(r, f) for r, f in zip(records, kept)]
        return IndexResult(indexed=indexed, unindexed=unindexed, image_wh=(w, h), model=self.model)

    def search_faces_by_image(
        self,
        collection: str,
        image: ImageSource,
        *,
        max_faces: int = DEFAULT_MAX_FACES,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
        quality_filter_level: str = "NONE",
        purpose: str | None = None,
    ) -> FaceSearch:
        """SearchFacesByImage: the largest face of ``image`` against the collection.

        Args:
            min_similarity: similarity 0-100; 40 means 1 false match in 10,000
                pairs. In a gallery of N faces expect about N x that rate strangers
                per search (``FaceSearch.expected_false_matches``).
            purpose: must be the collection's declared purpose (the default).

        Raises:
            NoFaceFound: the image has no face (or none passes the quality filter).
        """
        check_similarity(min_similarity, "FaceMatchThreshold")
        level = quality_filter.check_level(quality_filter_level)
        self._check_model(collection)
        pixels = self.engine.load(image)
        face = self._largest(pixels, level)
        vec = self.engine.analyzer.embed(pixels, face).embedding[0]  # type: ignore[index]
        found = search_collection(self.engine, self.store, collection, vec, min_similarity=min_similarity, max_faces=max_faces, purpose=purpose)
        h, w = pixels.shape[:2]
        return dataclasses.replace(found, searched_face=face[0], image_wh=(w, h))

    def search_faces(self, collection: str, face_id: str, *, max_faces: int = DEFAULT_MAX_FACES, min_similarity: float = DEFAULT_MIN_SIMILARITY, purpose: str | None = None) -> FaceSearch:
        """SearchFaces: a stored face against the rest of its collection."""
        vec = self.store.faces.vector(collection, face_id)
        found = search_collection(self.engine, self.store, collection, vec, min_similarity=min_similarity, max_faces=max_faces, purpose=purpose, exclude=face_id, action="SearchFaces")
        return dataclasses.replace(found, searched_face_id=face_id)

    # -- users -----------------------------------------------------------------
    def associate_faces(
        self, collection: str, user_id: str, face_ids: list[str], *, min_similarity: float = DEFAULT_MIN_SIMILARITY, client_token: str | None = None, owner: str = ""
    ) -> tuple[list[str], list[tuple[str, str | None, float | None, str]]]:
        """AssociateFaces: tie faces to a user. Once the user has faces, a new face must
        reach ``min_similarity`` against the user's template; the faces of a user's
        first call must reach it against each other's consensus (``LOW_MATCH_CONFIDENCE``
        otherwise). Unsuccessful entries carry the similarity. ``client_token`` makes a
        retry return the first call's answer (tokens belong to ``owner``)."""
        check_similarity(min_similarity, "UserMatchThreshold")
        done, failed = self.store.users.associate(collection, user_id, face_ids, bar=self.engine.bar(min_similarity), client_token=client_token, owner=owner)
        rated = [(fid, uid, None if cos is None else self._similarity_of(collection, fid, cos), why) for fid, uid, cos, why in failed]
        return done, rated

    def search_users(self, collection: str, *, user_id: str | None = None, face_id: str | None = None, min_similarity: float = DEFAULT_MIN_SIMILARITY, max_users: int = DEFAULT_MAX_FACES, purpose: str | None = None) -> UserSearch:
        """SearchUsers: by a stored face or by a user's template (give exactly one)."""
        if (user_id is None) == (face_id is None):
            raise InvalidParameter("give exactly one of UserId or FaceId")
        check_similarity(min_similarity, "UserMatchThreshold")
        self._check_model(collection)
        vec = self.store.users.vector(collection, user_id) if user_id is not None else self.store.faces.vector(collection, face_id)  # type: ignore[arg-type]
        min_cosine, refusal = probe_bar(self.engine, vec, min_similarity)
        hits = self.store.users.search(collection, vec, max_users=max_users, min_cosine=min_cosine, purpose=purpose, exclude=user_id, action="SearchUsers")
        matches = self._user_matches(vec, hits, min_similarity)
        return UserSearch(matches=matches, searched_face=None, searched_face_id=face_id, searched_user_id=user_id, unsearched=[], image_wh=(0, 0), model=self.model, refusal=refusal)

    def search_users_by_image(self, collection: str, image: ImageSource, *, min_similarity: float = DEFAULT_MIN_SIMILARITY, max_users: int = DEFAULT_MAX_FACES, quality_filter_level: str = "NONE", purpose: str | None = None) -> UserSearch:
        """SearchUsersByImage: the largest face against every user's template; the other
        faces are returned as unsearched."""
        check_similarity(min_similarity, "UserMatchThreshold")
        level = quality_filter.check_level(quality_filter_level)
        self._check_model(collection)
        pixels = self.engine.load(image)
        all_faces = self.engine.analyzer.detect(pixels)
        face = self._largest(pixels, level, all_faces)
        vec = self.engine.analyzer.embed(pixels, face).embedding[0]  # type: ignore[index]
        min_cosine, refusal = probe_bar(self.engine, vec, min_similarity)
        hits = self.store.users.search(collection, vec, max_users=max_users, min_cosine=min_cosine, purpose=purpose)
        matches = self._user_matches(vec, hits, min_similarity)
        h, w = pixels.shape[:2]
        others = [f for f in all_faces if f.xyxy != face[0].xyxy]
        return UserSearch(matches=matches, searched_face=face[0], searched_face_id=None, searched_user_id=None, unsearched=others, image_wh=(w, h), model=self.model, refusal=refusal)

    # -- 1:1, consent, erasure, audit ----------------------------------------------
    def compare_faces(self, source: ImageSource, target: ImageSource, *, min_similarity: float = DEFAULT_MIN_SIMILARITY, quality_filter_level: str = "NONE") -> Comparison:
        """CompareFaces, recorded in the audit log (no collection involved). Target faces
        below the ``quality_filter_level`` bar are not compared (left out of both lists)."""
        level = quality_filter.check_level(quality_filter_level)
        result = self.engine.compare(source, target, min_similarity=min_similarity)
        if level != "NONE":
            kept = [[m for m in found if not quality_filter.reasons(m.face, level)] for found in (result.matches, result.unmatched)]
            result = dataclasses.replace(result, matches=kept[0], unmatched=kept[1])
        self.store.audit.record("CompareFaces", count=len(result.matches))
        return result

    # -- internals -------------------------------------------------------------
    def _check_model(self, collection: str) -> None:
        check_contract(self.engine, self.store, collection)

    def _largest(self, pixels: np.ndarray, level: str, faces: Faces | None = None) -> Faces:
        if faces is None:  # SearchFacesByImage: the pose is not reported, only filtered on
            faces = self.engine.analyzer.detect(pixels, pose=level != "NONE")
        if len(faces) == 0:
            raise NoFaceFound("there are no faces in the image")
        if quality_filter.reasons(faces[0], level):
            raise NoFaceFound(f"the largest face does not pass the {level} quality filter")
        return faces[0:1]

    def _similarity_of(self, collection: str, face_id: str, cosine: float) -> float:
        """The similarity an unsuccessful association reports: the face's cosine to the
        user's template (or its first batch's consensus) rated on the face's own region,
        since the template stands for the same person."""
        try:
            vector = self.store.faces.vector(collection, face_id)
        except NotFound:  # erased meanwhile: the global table is all that is left to say
            return float(self.engine.calibration.similarity(cosine))
        return self.engine.rate(cosine, vector, vector, min_similarity=0.0).similarity

    def _user_matches(self, vector: np.ndarray, hits: list[UserHit], min_similarity: float) -> list[UserMatch]:
        rated = [UserMatch(h.user, self.engine.rate(h.cosine, vector, h.vector, min_similarity=min_similarity)) for h in hits]  # type: ignore[arg-type]
        rated = [m for m in rated if m.match.is_match or min_similarity <= 0]
        return sorted(rated, key=lambda m: -m.match.similarity)


def _confidence(face: Face) -> float:
    """Detector confidence as Rekognition reports it: a percentage."""
    return round(100.0 * float(face.score), 4)
