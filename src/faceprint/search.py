"""The one collection search: a probe embedding against a collection's faces.

SearchFacesByImage, SearchFaces, stream processors, video search jobs and anything
later search a collection through :func:`search_collection` and nothing else, so every
search checks the collection's embedding contract, fetches candidates at the probe's
own bar, rates each hit as a pair with the engine's calibration and says when the
probe cannot be decided at the threshold.
"""

from __future__ import annotations

import numpy as np

from faceprint.engine import Engine, check_similarity
from faceprint.errors import InvalidParameter
from faceprint.matching import UNREACHABLE
from faceprint.types import CollectionMatch, FaceSearch
from faceprint.store import StoreBackend

NEVER = 2.0  # a cosine no pair reaches: the search returns nothing


def check_contract(engine: Engine, store: StoreBackend, collection: str) -> None:
    """Refuse a collection whose vectors another embedder made.

    Vectors of two embedders of the same size compare without error and mean nothing;
    of different sizes they fail deep inside the index. Either way the answer must be
    this error, before anything is compared.

    Raises:
        NotFound: no such collection.
        InvalidParameter: the collection holds another embedder's vectors.
    """
    model = store.collections.model(collection)
    contract = engine.analyzer.embedder.contract
    if model != contract:
        hint = model.split("/", 1)[0]
        raise InvalidParameter(f"collection {collection} holds {model} embeddings; this engine makes {contract} (use the {hint} embedder: Engine.for_contract, or --embedder {hint} on the command line)")


def probe_bar(engine: Engine, vector: np.ndarray, similarity: float) -> tuple[float, str | None]:
    """The least cosine a candidate needs against this probe, and why none can match.

    A pair needs the higher of its two faces' bars, so the probe's own bar is the
    loosest any candidate can match at: the index is asked for hits above it, and each
    hit is then rated as a pair. When the probe cannot be decided at ``similarity`` the
    cosine is past 1 (nothing is returned) and the refusal is ``UNREACHABLE``.

    Example:
        >>> min_cosine, refusal = probe_bar(engine, probe, 40.0)   # doctest: +SKIP
    """
    bar = engine.bar(similarity).face(vector)
    return (bar, None) if np.isfinite(bar) else (NEVER, UNREACHABLE)


def search_collection(
    engine: Engine,
    store: StoreBackend,
    collection: str,
    vector: np.ndarray,
    *,
    min_similarity: float,
    max_faces: int,
    purpose: str | None = None,
    exclude: str | None = None,
    action: str = "SearchFacesByImage",
) -> FaceSearch:
    """The faces of ``collection`` that match ``vector`` at ``min_similarity``, best first.

    Args:
        engine: the engine whose embedder made ``vector``; its calibration rates the pairs.
        store: the store holding the collection.
        collection: the collection.
        vector: the probe's unit embedding.
        min_similarity: similarity 0-100 (40: 1 false match in 10,000 pairs of strangers
            like these two).
        max_faces: how many candidates the index returns (matches are among them).
        purpose: the purpose the search is made for (must be the collection's).
        exclude: a face id left out (the probe's own, for SearchFaces).
        action: the audit log's name for the search.

    Returns:
        A ``FaceSearch`` without the searched face, its id or the image size (the
        caller adds what it has); ``refusal`` is set when no useful threshold keeps the
        rate for the probe.

    Raises:
        InvalidParameter: a bad threshold, or the collection holds another embedder's vectors.
        NotFound: no such collection.

    Example:
        >>> found = search_collection(engine, store, "staff", probe, min_similarity=40, max_faces=5)  # doctest: +SKIP
        >>> [(m.face.external_image_id, round(m.match.similarity)) for m in found.matches]
        [('ada', 71)]
    """
    check_similarity(min_similarity, "FaceMatchThreshold")
    check_contract(engine, store, collection)
    min_cosine, refusal = probe_bar(engine, vector, min_similarity)
    hits = store.faces.search(collection, vector, max_faces=max_faces, min_cosine=min_cosine, purpose=purpose, exclude=exclude, action=action)
    rated = [CollectionMatch(h.face, engine.rate(h.cosine, vector, h.vector, min_similarity=min_similarity)) for h in hits if h.vector is not None]
    matches = sorted((m for m in rated if m.match.is_match), key=lambda m: -m.match.similarity)
    fmr = 1.0 if min_similarity <= 0 else 10.0 ** (-min_similarity / 10.0)
    contract = engine.analyzer.embedder.contract
    return FaceSearch(
        matches=matches,
        searched_face=None,
        searched_face_id=None,
        image_wh=(0, 0),
        model=contract,
        gallery_size=store.faces.size(collection),
        min_similarity=min_similarity,
        threshold_false_match_rate=fmr,
        refusal=refusal,
    )
