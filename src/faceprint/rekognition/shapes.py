"""Results as Rekognition's JSON response shapes, for ``--json`` and the HTTP service.

Only members Rekognition defines are emitted, so unmodified clients (boto3) parse
them. Boxes and landmarks are fractions of the image size; similarities are
faceprint's calibrated 0-100 (see docs/calibration.md); timestamps are Unix seconds.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

from faceprint.analysis.attributes import FaceAttributes
from faceprint.imaging.boxes import box_fractions
from faceprint.types import Box, CollectionInfo, Comparison, Face, FaceMatch, FaceSearch, Faces, IndexResult, StoredFace, UserInfo, UserSearch
from faceprint.matching import UNREACHABLE

if TYPE_CHECKING:  # loaded where a video result exists: `faceprint --help` stays light
    from faceprint.video.results import PersonAppearance, VideoFaceDetection, VideoFaceSearch, VideoMetadata

# Rekognition names landmarks by image side: eyeLeft is the eye on the image's left,
# which is the subject's right eye (our landmark 0).
LANDMARK_TYPES = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")


def collection_arn(name: str) -> str:
    """The ARN a collection answers to (account and region are placeholders: one box).

    Example:
        >>> collection_arn("staff")
        'arn:aws:rekognition:local:000000000000:collection/staff'
    """
    return f"arn:aws:rekognition:local:000000000000:collection/{name}"


def bounding_box(box: Box) -> dict[str, float]:
    """Rekognition's BoundingBox of a box in fractions (from ``imaging.box_fractions``)."""
    return {"Width": box.width, "Height": box.height, "Left": box.left, "Top": box.top}


# DetectFaces Attributes that the dense mesh answers, and the FaceDetail member each
# fills. Age, gender, emotions, smile, glasses, beard, moustache and occlusion are
# never answered: docs/attributes.md says why.
MESH_ATTRIBUTES = {"EYES_OPEN": "EyesOpen", "MOUTH_OPEN": "MouthOpen", "EYE_DIRECTION": "EyeDirection"}
# Every Attributes value that faceprint answers; the others are refused by name.
MEASURED_ATTRIBUTES = frozenset({"DEFAULT", "ALL", *MESH_ATTRIBUTES})


def wants_mesh(attributes: list[str] | None) -> bool:
    """Whether a DetectFaces ``Attributes`` list asks for anything the mesh measures."""
    return bool(attributes) and ("ALL" in attributes or any(a in MESH_ATTRIBUTES for a in attributes))  # type: ignore[operator]


def face_detail(face: Face, image_wh: tuple[int, int], attrs: FaceAttributes | None = None, members: list[str] | None = None) -> dict[str, Any]:
    """FaceDetail of a detected face (the members faceprint measures).

    With ``attrs`` (the dense mesh's measurements), Landmarks hold every type the mesh
    gives, Pose comes from the mesh, and the members named by ``members`` (a
    DetectFaces Attributes list; ``ALL`` for every one) are added.
    """
    w, h = image_wh
    detail: dict[str, Any] = {
        "BoundingBox": bounding_box(box_fractions(face.xyxy, image_wh)),
        "Landmarks": [{"Type": t, "X": float(x) / w, "Y": float(y) / h} for t, (x, y) in zip(LANDMARK_TYPES, face.landmarks)],
        "Confidence": round(100.0 * face.score, 4),
    }
    q = face.quality
    if q is not None:
        if all(math.isfinite(v) for v in (q.roll, q.yaw, q.pitch)):  # unknown pose: omitted, not null
            detail["Pose"] = {"Roll": round(q.roll, 4), "Yaw": round(q.yaw, 4), "Pitch": round(q.pitch, 4)}
        detail["Quality"] = {"Brightness": round(q.brightness, 4), "Sharpness": round(q.sharpness, 4)}
    if attrs is not None:
        _add_attributes(detail, attrs, image_wh, members or ["ALL"])
    return detail


def _add_attributes(detail: dict[str, Any], attrs: FaceAttributes, image_wh: tuple[int, int], members: list[str]) -> None:
    w, h = image_wh
    detail["Landmarks"] = [{"Type": t, "X": x / w, "Y": y / h} for t, (x, y) in attrs.landmarks.items()]
    detail["Pose"] = {"Roll": round(attrs.pose.roll, 4), "Yaw": round(attrs.pose.yaw, 4), "Pitch": round(attrs.pose.pitch, 4)}
    every = "ALL" in members
    if every or "EYES_OPEN" in members:
        detail["EyesOpen"] = {"Value": attrs.eyes_open.value, "Confidence": round(attrs.eyes_open.confidence, 4)}
    if every or "MOUTH_OPEN" in members:
        detail["MouthOpen"] = {"Value": attrs.mouth_open.value, "Confidence": round(attrs.mouth_open.confidence, 4)}
    if every or "EYE_DIRECTION" in members:
        g = attrs.gaze
        detail["EyeDirection"] = {"Yaw": round(g.yaw, 4), "Pitch": round(g.pitch, 4), "Confidence": round(attrs.gaze_confidence, 4)}


def detect_faces(faces: Faces, image_wh: tuple[int, int], attrs: list[FaceAttributes] | None = None, members: list[str] | None = None) -> dict[str, Any]:
    """DetectFaces; ``attrs``, one per face, when the request asked for mesh attributes."""
    per_face = attrs if attrs is not None else [None] * len(faces)
    return {"FaceDetails": [face_detail(f, image_wh, a, members) for f, a in zip(faces, per_face)]}


REFUSAL_MESSAGES = {
    UNREACHABLE: "no similarity threshold keeps the false-match rate asked for with this face: it lies where strangers' faces "
    "score alike (young children's faces, for one); it is not matched at this threshold (see docs/fairness.md)",
}


def refusal(reason: str) -> dict[str, str]:
    """A faceprint member (ignored by SDKs that do not know it): why a face was not decided."""
    return {"Reason": reason, "Message": REFUSAL_MESSAGES.get(reason, reason)}


def compare_faces(result: Comparison, source_wh: tuple[int, int], target_wh: tuple[int, int]) -> dict[str, Any]:
    """CompareFaces; an unmatched face no threshold could decide carries ``Refusal``."""
    source = face_detail(result.source, source_wh)

    def unmatched(m: FaceMatch) -> dict[str, Any]:
        detail = face_detail(m.face, target_wh)
        return {**detail, "Refusal": refusal(m.match.refusal)} if m.match.refusal else detail

    return {
        "SourceImageFace": {"BoundingBox": source["BoundingBox"], "Confidence": source["Confidence"]},
        "FaceMatches": [{"Similarity": round(m.match.similarity, 4), "Face": face_detail(m.face, target_wh)} for m in result.matches],
        "UnmatchedFaces": [unmatched(m) for m in result.unmatched],
    }


def face(record: StoredFace, model: str) -> dict[str, Any]:
    """The Face member of FaceRecords, FaceMatches and ListFaces. Its optional
    IndexFacesModelVersion is left out: Rekognition's model restricts it to digits and
    dots, and the response's FaceModelVersion already names the model."""
    out: dict[str, Any] = {
        "FaceId": record.face_id,
        "BoundingBox": bounding_box(record.box),
        "ImageId": record.image_id,
        "Confidence": record.confidence,
    }
    if record.external_image_id is not None:
        out["ExternalImageId"] = record.external_image_id
    if record.user_id is not None:
        out["UserId"] = record.user_id
    return out


def create_collection(info: CollectionInfo) -> dict[str, Any]:
    """CreateCollection's response for the collection just made."""
    return {"StatusCode": 200, "CollectionArn": collection_arn(info.name), "FaceModelVersion": info.model}


def describe_collection(info: CollectionInfo) -> dict[str, Any]:
    """DescribeCollection's response (``CreationTimestamp`` in Unix seconds)."""
    return {
        "FaceCount": info.face_count,
        "UserCount": info.user_count,
        "FaceModelVersion": info.model,
        "CollectionARN": collection_arn(info.name),
        "CreationTimestamp": info.created,
    }


def index_faces(result: IndexResult, attributes: Callable[[Face], FaceAttributes] | None = None, members: list[str] | None = None) -> dict[str, Any]:
    """IndexFaces; ``attributes`` measures a face's mesh attributes when the request's
    DetectionAttributes (``members``) asked for them."""

    def detail(f: Face) -> dict[str, Any]:
        return face_detail(f, result.image_wh, None if attributes is None else attributes(f), members)

    return {
        "FaceRecords": [{"Face": face(f.record, result.model), "FaceDetail": detail(f.detail)} for f in result.indexed],
        "FaceModelVersion": result.model,
        "UnindexedFaces": [{"Reasons": list(u.reasons), "FaceDetail": detail(u.detail)} for u in result.unindexed],
    }


def search_faces(result: FaceSearch) -> dict[str, Any]:
    """SearchFacesByImage's shape, or SearchFaces' when the search was by FaceId."""
    matches = [{"Similarity": round(m.match.similarity, 4), "Face": face(m.face, result.model)} for m in result.matches]
    out: dict[str, Any] = {"FaceMatches": matches, "FaceModelVersion": result.model}
    if result.searched_face_id is not None:
        out["SearchedFaceId"] = result.searched_face_id
    elif result.searched_face is not None:
        detail = face_detail(result.searched_face, result.image_wh)
        out["SearchedFaceBoundingBox"] = detail["BoundingBox"]
        out["SearchedFaceConfidence"] = detail["Confidence"]
    if result.refusal:
        out["SearchedFaceRefusal"] = refusal(result.refusal)
    return out


def list_faces(faces: list[StoredFace], token: str | None, model: str) -> dict[str, Any]:
    """ListFaces' response for one page (``NextToken`` only when there is a next page)."""
    out: dict[str, Any] = {"Faces": [face(f, model) for f in faces], "FaceModelVersion": model}
    if token:
        out["NextToken"] = token
    return out


def delete_faces(deleted: list[str], failed: list[tuple[str, str | None, str]]) -> dict[str, Any]:
    """DeleteFaces' response from ``FacesPart.delete``'s ``(deleted, unsuccessful)``.

    Example:
        >>> delete_faces(["f1"], [("f2", "alice", "ASSOCIATED_TO_AN_EXISTING_USER")])["UnsuccessfulFaceDeletions"]
        [{'FaceId': 'f2', 'UserId': 'alice', 'Reasons': ['ASSOCIATED_TO_AN_EXISTING_USER']}]
    """
    return {
        "DeletedFaces": deleted,
        "UnsuccessfulFaceDeletions": [{"FaceId": fid, **({"UserId": uid} if uid else {}), "Reasons": [why]} for fid, uid, why in failed],
    }


def list_users(users: list[UserInfo], token: str | None) -> dict[str, Any]:
    """ListUsers' response for one page (``NextToken`` only when there is a next page)."""
    out: dict[str, Any] = {"Users": [{"UserId": u.user_id, "UserStatus": u.status} for u in users]}
    if token:
        out["NextToken"] = token
    return out


def associate_faces(done: list[str], failed: list[tuple[str, str | None, float | None, str]], status: str) -> dict[str, Any]:
    """AssociateFaces' response from ``UsersPart.associate``'s ``(associated,
    unsuccessful)``, with the user's status after the call."""
    return {
        "AssociatedFaces": [{"FaceId": f} for f in done],
        "UnsuccessfulFaceAssociations": [
            {"FaceId": fid, **({"UserId": uid} if uid else {}), **({"Confidence": sim} if sim is not None else {}), "Reasons": [why]} for fid, uid, sim, why in failed
        ],
        "UserStatus": status,
    }


def disassociate_faces(done: list[str], failed: list[tuple[str, str | None, str]], status: str) -> dict[str, Any]:
    """DisassociateFaces' response from ``UsersPart.disassociate``'s result, with the
    user's status after the call."""
    return {
        "DisassociatedFaces": [{"FaceId": f} for f in done],
        "UnsuccessfulFaceDisassociations": [{"FaceId": fid, **({"UserId": uid} if uid else {}), "Reasons": [why]} for fid, uid, why in failed],
        "UserStatus": status,
    }


def search_users(result: UserSearch) -> dict[str, Any]:
    """SearchUsers' shape, or SearchUsersByImage's when the search was by image."""
    out: dict[str, Any] = {
        "UserMatches": [{"Similarity": round(m.match.similarity, 4), "User": {"UserId": m.user.user_id, "UserStatus": m.user.status}} for m in result.matches],
        "FaceModelVersion": result.model,
    }
    if result.searched_face is not None:
        out["SearchedFace"] = {"FaceDetail": face_detail(result.searched_face, result.image_wh)}
        out["UnsearchedFaces"] = [{"FaceDetails": face_detail(f, result.image_wh), "Reasons": ["FACE_NOT_LARGEST"]} for f in result.unsearched]
    if result.searched_face_id is not None:
        out["SearchedFace"] = {"FaceId": result.searched_face_id}
    if result.searched_user_id is not None:
        out["SearchedUser"] = {"UserId": result.searched_user_id}
    if result.refusal:
        out["SearchedFaceRefusal"] = refusal(result.refusal)
    return out


# -- recorded video: GetFaceSearch and GetFaceDetection --------------------------------
def video_metadata(metadata: VideoMetadata) -> dict[str, Any]:
    """VideoMetadata of a decoded video."""
    return {
        "Codec": metadata.codec,
        "DurationMillis": metadata.duration_ms,
        "Format": metadata.format,
        "FrameRate": metadata.fps,
        "FrameHeight": metadata.height,
        "FrameWidth": metadata.width,
    }


def _job_status(status: str, error: str | None) -> dict[str, Any]:
    return {"JobStatus": status, "StatusMessage": error} if error else {"JobStatus": status}


def get_face_search(result: VideoFaceSearch) -> dict[str, Any]:
    """GetFaceSearch of a searched video, every Persons entry in one response.

    Each appearance is a Persons entry whose ``Person.Index`` is the track id; a decided
    one carries its match in ``FaceMatches``.

    Args:
        result: from ``faceprint.video.search.search_video``.

    Returns:
        JobStatus (and StatusMessage when it failed), VideoMetadata and Persons.

    Example:
        >>> doc = get_face_search(search_video(svc, source, "staff"))   # doctest: +SKIP
        >>> {p["Person"]["Index"] for p in doc["Persons"] if p.get("FaceMatches")}   # doctest: +SKIP
        {3}
    """
    return {**_job_status(result.status, result.error), **video_job(result)}


def get_face_detection(result: VideoFaceDetection) -> dict[str, Any]:
    """GetFaceDetection of a video, every Faces entry in one response.

    Args:
        result: from ``faceprint.video.search.detect_video``.

    Returns:
        JobStatus (and StatusMessage when it failed), VideoMetadata and Faces.

    Example:
        >>> doc = get_face_detection(detect_video(svc, source))   # doctest: +SKIP
        >>> doc["Faces"][0]["Face"]["BoundingBox"]["Left"]   # doctest: +SKIP
        0.41
    """
    return {**_job_status(result.status, result.error), **video_job(result)}


def video_job(result: VideoFaceSearch | VideoFaceDetection) -> dict[str, Any]:
    """What a finished video job keeps for its Get... calls to page over: VideoMetadata
    and Persons (a search) or Faces (a detection), without the job's status.

    ``faceprint.video.jobs.VideoJobs`` takes this as its ``render``.

    Example:
        >>> sorted(video_job(search_video(svc, source, "staff")))   # doctest: +SKIP
        ['Persons', 'VideoMetadata']
    """
    from faceprint.video.results import VideoFaceSearch

    if isinstance(result, VideoFaceSearch):
        return {"VideoMetadata": video_metadata(result.metadata), "Persons": [_person(a) for a in result.appearances]}
    faces = [{"Timestamp": f.timestamp_ms, "Face": face_detail(f.face, f.image_wh, f.attributes, ["ALL"])} for f in result.faces]
    return {"VideoMetadata": video_metadata(result.metadata), "Faces": faces}


def _person(appearance: PersonAppearance) -> dict[str, Any]:
    """A Persons entry of GetFaceSearch."""
    detail = face_detail(appearance.face, appearance.image_wh)
    item: dict[str, Any] = {"Timestamp": appearance.timestamp_ms, "Person": {"Index": appearance.track_id, "BoundingBox": detail["BoundingBox"], "Face": face_detail(appearance.face, appearance.image_wh)}}
    match = appearance.match
    if match is not None:
        stored = {"FaceId": match.face_id}
        if match.external_image_id is not None:
            stored["ExternalImageId"] = match.external_image_id
        item["FaceMatches"] = [{"Similarity": match.similarity, "Face": stored}]
    return item
