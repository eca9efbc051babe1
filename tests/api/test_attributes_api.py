"""Face attributes over the wire, as a migrating client uses them: what is not measured
is refused by name (Amazon's examples read AgeRange after Attributes=['ALL'] and crashed
on the KeyError), IndexFaces' DetectionAttributes and CompareFaces' QualityFilter do
what Rekognition documents, and one face gets one pose from every operation."""

from __future__ import annotations

import botocore.session
import cv2
import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import DATA, lfw_pair, unique

pytestmark = pytest.mark.data

MEASURED = {"DEFAULT", "ALL", "EYES_OPEN", "MOUTH_OPEN", "EYE_DIRECTION"}
MESH_MEMBERS = ("Landmarks", "Pose", "Quality", "EyesOpen", "MouthOpen", "EyeDirection")


def unmeasured() -> list[str]:
    enum = botocore.session.get_session().get_service_model("rekognition").shape_for("Attribute").enum
    return sorted(set(enum) - MEASURED)


@pytest.fixture(scope="module")
def rek(server):
    return server.client("admin", retries={"max_attempts": 1})


@pytest.fixture(scope="module")
def obama() -> bytes:
    photo = DATA / "people" / "face_recognition" / "examples" / "obama.jpg"
    if not photo.is_file():
        pytest.skip(f"real data not found in {DATA}")
    return photo.read_bytes()


@pytest.fixture(scope="module")
def collection(rek) -> str:
    name = unique("attrs")
    rek.create_collection(CollectionId=name, Tags={"faceprint:consent-required": "false", "faceprint:purpose": "attribute tests"})
    return name


def test_attributes_we_do_not_measure_are_refused_by_name(rek, obama):
    names = unmeasured()
    assert {"AGE_RANGE", "GENDER", "EMOTIONS", "SMILE", "BEARD", "MUSTACHE", "EYEGLASSES", "SUNGLASSES", "FACE_OCCLUDED"} <= set(names)
    for name in names:
        for asked in ([name], ["ALL", name]):
            with pytest.raises(ClientError) as exc:
                rek.detect_faces(Image={"Bytes": obama}, Attributes=asked)
            error = exc.value.response["Error"]
            assert error["Code"] == "InvalidParameterException", (asked, error)
            assert name in error["Message"] and "EYES_OPEN" in error["Message"] and "ALL" in error["Message"], error["Message"]


def test_index_faces_honours_detection_attributes(rek, obama, collection):
    detected = rek.detect_faces(Image={"Bytes": obama}, Attributes=["ALL"])["FaceDetails"][0]
    indexed = rek.index_faces(CollectionId=collection, Image={"Bytes": obama}, DetectionAttributes=["ALL"])["FaceRecords"][0]["FaceDetail"]
    assert len(indexed["Landmarks"]) == 30
    for member in MESH_MEMBERS:
        assert indexed[member] == detected[member], member
    plain = rek.index_faces(CollectionId=collection, Image={"Bytes": obama})["FaceRecords"][0]["FaceDetail"]
    assert len(plain["Landmarks"]) == 5 and "EyesOpen" not in plain  # DEFAULT, as Rekognition
    only = rek.index_faces(CollectionId=collection, Image={"Bytes": obama}, DetectionAttributes=["EYES_OPEN"])["FaceRecords"][0]["FaceDetail"]
    assert "EyesOpen" in only and "MouthOpen" not in only
    before = rek.describe_collection(CollectionId=collection)["FaceCount"]
    with pytest.raises(ClientError) as exc:
        rek.index_faces(CollectionId=collection, Image={"Bytes": obama}, DetectionAttributes=["AGE_RANGE"])
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException" and "AGE_RANGE" in exc.value.response["Error"]["Message"]
    assert rek.describe_collection(CollectionId=collection)["FaceCount"] == before  # refused before indexing


def test_one_face_gets_one_pose(rek, obama, collection):
    """obama.jpg once had Pitch 22.3 from IndexFaces and -1.1 from DetectFaces ALL."""
    poses = {
        "DetectFaces DEFAULT": rek.detect_faces(Image={"Bytes": obama})["FaceDetails"][0]["Pose"],
        "DetectFaces ALL": rek.detect_faces(Image={"Bytes": obama}, Attributes=["ALL"])["FaceDetails"][0]["Pose"],
        "IndexFaces": rek.index_faces(CollectionId=collection, Image={"Bytes": obama})["FaceRecords"][0]["FaceDetail"]["Pose"],
        "CompareFaces": rek.compare_faces(SourceImage={"Bytes": obama}, TargetImage={"Bytes": obama})["FaceMatches"][0]["Face"]["Pose"],
        "SearchUsersByImage": rek.search_users_by_image(CollectionId=collection, Image={"Bytes": obama})["SearchedFace"]["FaceDetail"]["Pose"],
    }
    first = poses["DetectFaces ALL"]
    for operation, pose in poses.items():
        assert all(abs(pose[k] - first[k]) < 0.01 for k in ("Yaw", "Pitch", "Roll")), (operation, pose, first)
    assert abs(first["Pitch"]) < 15  # a frontal portrait: the mesh's pitch, not the five points' 22


def test_compare_faces_quality_filter_drops_poor_target_faces(rek):
    a, b = lfw_pair()
    ok, blurred = cv2.imencode(".jpg", cv2.GaussianBlur(cv2.imread(str(b)), (0, 0), 5))
    source, target = a.read_bytes(), np.asarray(blurred).tobytes()

    def compared(level: str | None) -> int:
        extra = {} if level is None else {"QualityFilter": level}
        out = rek.compare_faces(SourceImage={"Bytes": source}, TargetImage={"Bytes": target}, SimilarityThreshold=0, **extra)
        return len(out["FaceMatches"]) + len(out["UnmatchedFaces"])

    assert compared(None) == 1 and compared("NONE") == 1 and compared("LOW") == 1  # the default is NONE
    assert compared("HIGH") == 0 and compared("MEDIUM") == 0 and compared("AUTO") == 0  # too blurred: not compared
