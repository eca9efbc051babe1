"""Every typed value faceprint hands between its layers and to its callers, in one home.

* ``faces``: ``Faces`` (a batch, one array per field), ``Face`` (one row), ``Box``.
* ``matches``: ``Match`` (a calibrated pair), ``Verification``, ``Comparison``,
  ``Identification``.
* ``records``: what the store keeps and hands out: ``CollectionInfo``, ``StoredFace``,
  ``NewFace``, ``FaceHit``, ``UserInfo``, ``UserHit``.
* ``results``: the collection verbs' results: ``IndexResult``, ``FaceSearch``,
  ``UserSearch`` and their parts.

Video's results (``faceprint.video.results``) stay with video: they carry face
attributes, which the analysis layer defines.
"""

from faceprint.types.faces import QUALITY_FIELDS, Box, Face, Faces, FacesMeta, Quality
from faceprint.types.matches import Comparison, FaceMatch, Identification, Match, Verification
from faceprint.types.records import CollectionInfo, FaceHit, NewFace, StoredFace, UserHit, UserInfo
from faceprint.types.results import CollectionMatch, FaceSearch, IndexedFace, IndexResult, UnindexedFace, UserMatch, UserSearch

__all__ = [
    "QUALITY_FIELDS",
    "Box",
    "Face",
    "Faces",
    "FacesMeta",
    "Quality",
    "Match",
    "Verification",
    "FaceMatch",
    "Comparison",
    "Identification",
    "CollectionInfo",
    "StoredFace",
    "NewFace",
    "FaceHit",
    "UserInfo",
    "UserHit",
    "IndexedFace",
    "UnindexedFace",
    "IndexResult",
    "CollectionMatch",
    "FaceSearch",
    "UserMatch",
    "UserSearch",
]
