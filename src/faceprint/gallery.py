"""A small in-memory gallery for 1:N identification from a folder of known people.

For durable collections with millions of faces, consent and audit, see the store;
this is the face_recognition-style "known people folder" workflow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from faceprint.engine import DEFAULT_MIN_SIMILARITY, Engine
from faceprint.imaging.decode import IMAGE_SUFFIXES
from faceprint.errors import FaceprintError, InvalidParameter
from faceprint.types import Faces, Identification

CANDIDATES = 5  # nearest faces rated per probe: the rate depends on both faces, not the cosine alone

log = logging.getLogger(__name__)



def person_images(root: Path) -> list[tuple[str, Path]]:
    """``(person, image path)`` for every image in ``root/<person>/``, sorted.

    Raises:
        InvalidParameter: no such folder, or no ``<person>/<image>`` files in it.
    """
    if not root.is_dir():
        raise InvalidParameter(f"{root} is not a folder")
    items = [
        (person.name, f)
        for person in sorted(p for p in root.iterdir() if p.is_dir())
        for f in sorted(person.iterdir())
        if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()
    ]
    if not items:
        raise InvalidParameter(f"{root} has no <person>/<image> files")
    return items


@dataclass
class Gallery:
    """Known faces: one vector per enrolled image, with its person's label.

    Attributes:
        labels: the person of each row.
        vectors: ``(n, d)`` unit vectors.
        contract: the embedding contract of the vectors.
        skipped: files that were not enrolled, with the reason.
    """

    labels: list[str]
    vectors: np.ndarray
    contract: str
    skipped: list[tuple[Path, str]]

    @classmethod
    def from_folder(cls, engine: Engine, root: Path, *, progress: bool = False) -> Gallery:
        """Enrol ``root/<person>/<image>``: the largest face of each image.

        Images without a face, or that cannot be read, are skipped and listed.

        Raises:
            InvalidParameter: the folder has no ``<person>/<image>`` files.
        """
        items = person_images(Path(root))
        labels, vectors, skipped = [], [], []
        results = engine.analyze_many([path for _, path in items], pose=False)  # identities only
        for (person, path), faces in tqdm(zip(items, results), total=len(items), desc="gallery", disable=not progress, unit="img"):
            if isinstance(faces, FaceprintError):
                skipped.append((path, str(faces)))
            elif len(faces) == 0:
                skipped.append((path, "no face found"))
            else:
                labels.append(person)
                vectors.append(faces.embedding[0])
        for path, why in skipped:
            log.warning("gallery: skipped %s: %s", path, why)
        if not labels:
            raise InvalidParameter(f"no face could be enrolled from {root} ({len(skipped)} image(s) skipped)")
        dim = engine.analyzer.embedder.dim
        return cls(labels, np.array(vectors, np.float32).reshape(-1, dim), engine.analyzer.embedder.contract, skipped)

    def identify(self, engine: Engine, faces: Faces, *, min_similarity: float = DEFAULT_MIN_SIMILARITY) -> list[Identification]:
        """The best-matching person for each face (``label`` None below the threshold)."""
        if faces.embedding is None:
            raise InvalidParameter("faces have no embeddings; use engine.analyze or engine.embed first")
        for who, contract in (("faces were", faces.meta.embedder), ("the engine is", engine.analyzer.embedder.contract)):
            if contract and contract != self.contract:
                raise InvalidParameter(f"{who} embedded with {contract}, the gallery with {self.contract}")
        if len(self.labels) == 0:
            raise InvalidParameter("the gallery is empty")
        cos = faces.embedding @ self.vectors.T
        out = []
        for i, face in enumerate(faces):
            # the rate depends on both faces, so the nearest by cosine is not always the
            # best-calibrated: rate the few nearest and keep the most similar
            near = np.argsort(-cos[i])[:CANDIDATES]
            rated = [(int(j), engine.score(faces.embedding[i : i + 1], self.vectors[j : j + 1], min_similarity=min_similarity)) for j in near]
            best, match = max(rated, key=lambda jm: (jm[1].is_match, jm[1].similarity, jm[1].cosine))
            out.append(Identification(face=face, label=self.labels[best] if match.is_match else None, match=match))
        return out
