"""Stream-processor and collection members through boto3: every member of the input
shapes (botocore's own model, walked) is either used or refused with an
InvalidParameterException that names it; none is accepted and dropped."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import pytest
from botocore.model import Shape

from faceprint.api.model import REKOGNITION_PREFIX, service_models
from tests.api.conftest import DATA, unique

pytestmark = pytest.mark.data
DOOR_CLIP = DATA / "people" / "face_recognition" / "examples" / "short_hamilton_clip.mp4"
DOOR = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/door/1"
KDS = "arn:aws:kinesis:us-east-1:123456789012:stream/alerts"
ROLE = "arn:aws:iam::123456789012:role/rekognition"
BOX = ("Width", "Height", "Left", "Top")
ROI = {f"RegionsOfInterest[].BoundingBox.{k}" for k in BOX} | {"RegionsOfInterest[].Polygon[].X", "RegionsOfInterest[].Polygon[].Y"}

# Each member (a path through the input shape; [] steps into a list) is used by the
# operation, or refused because it cannot apply here.
USED: dict[str, set[str]] = {
    "CreateCollection": {"CollectionId", "Tags"},
    "DeleteCollection": {"CollectionId"},
    "DescribeCollection": {"CollectionId"},
    "ListCollections": {"NextToken", "MaxResults"},
    "TagResource": {"ResourceArn", "Tags"},
    "UntagResource": {"ResourceArn", "TagKeys[]"},
    "ListTagsForResource": {"ResourceArn"},
    "CreateStreamProcessor": {
        "Name",
        "Input.KinesisVideoStream.Arn",
        "Output.KinesisDataStream.Arn",
        "Settings.FaceSearch.CollectionId",
        "Settings.FaceSearch.FaceMatchThreshold",
        "RoleArn",
        "Tags",
        "DataSharingPreference.OptIn",
    }
    | ROI,
    "StartStreamProcessor": {"Name", "StartSelector.KVSStreamStartSelector.ProducerTimestamp", "StopSelector.MaxDurationInSeconds"},
    "UpdateStreamProcessor": {"Name", "DataSharingPreferenceForUpdate.OptIn", "ParametersToDelete[]"} | {p.replace("RegionsOfInterest", "RegionsOfInterestForUpdate") for p in ROI},
    "StopStreamProcessor": {"Name"},
    "DeleteStreamProcessor": {"Name"},
    "DescribeStreamProcessor": {"Name"},
    "ListStreamProcessors": {"NextToken", "MaxResults"},
}
# member -> (the members to add to a valid request, words the refusal must contain)
REFUSED: dict[str, dict[str, tuple[dict[str, Any], tuple[str, ...]]]] = {
    "CreateStreamProcessor": {
        "Output.S3Destination.Bucket": ({"Output": {"KinesisDataStream": {"Arn": KDS}, "S3Destination": {"Bucket": "results"}}}, ("Output.S3Destination", "StreamProcessorEvents")),
        "Output.S3Destination.KeyPrefix": ({"Output": {"KinesisDataStream": {"Arn": KDS}, "S3Destination": {"Bucket": "results", "KeyPrefix": "p/"}}}, ("Output.S3Destination",)),
        "Settings.ConnectedHome.Labels[]": ({"Settings": {"ConnectedHome": {"Labels": ["PERSON"]}}}, ("Settings.ConnectedHome", "Settings.FaceSearch")),
        "Settings.ConnectedHome.MinConfidence": ({"Settings": {"ConnectedHome": {"Labels": ["PERSON"], "MinConfidence": 50}}}, ("Settings.ConnectedHome",)),
        "NotificationChannel.SNSTopicArn": ({"NotificationChannel": {"SNSTopicArn": "arn:aws:sns:us-east-1:123456789012:alerts"}}, ("NotificationChannel", "faceprint:webhook")),
        "KmsKeyId": ({"KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd"}, ("KmsKeyId", "encrypt")),
    },
    "StartStreamProcessor": {
        "StartSelector.KVSStreamStartSelector.FragmentNumber": ({"StartSelector": {"KVSStreamStartSelector": {"FragmentNumber": "91343852333181432392682062607743920146264142535"}}}, ("FragmentNumber", "ProducerTimestamp")),
    },
    "UpdateStreamProcessor": {
        "SettingsForUpdate.ConnectedHomeForUpdate.Labels[]": ({"SettingsForUpdate": {"ConnectedHomeForUpdate": {"Labels": ["PET"]}}}, ("ConnectedHomeForUpdate",)),
        "SettingsForUpdate.ConnectedHomeForUpdate.MinConfidence": ({"SettingsForUpdate": {"ConnectedHomeForUpdate": {"MinConfidence": 50}}}, ("ConnectedHomeForUpdate",)),
    },
}


def leaves(shape: Shape, prefix: str = "") -> Iterator[str]:
    """The member paths of a shape down to its scalars (a map, like Tags, is one member)."""
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            yield from leaves(member, f"{prefix}.{name}" if prefix else name)
    elif shape.type_name == "list":
        yield from leaves(shape.member, prefix + "[]")
    else:
        yield prefix


def leaves_set(shape: Shape, value: Any, prefix: str = "") -> Iterator[str]:
    """The member paths a request actually sets."""
    if shape.type_name == "structure":
        for name, v in value.items():
            yield from leaves_set(shape.members[name], v, f"{prefix}.{name}" if prefix else name)
    elif shape.type_name == "list":
        for v in value:
            yield from leaves_set(shape.member, v, prefix + "[]")
    else:
        yield prefix


def input_shape(op: str) -> Shape:
    return service_models()[REKOGNITION_PREFIX].operation_model(op).input_shape


def test_every_member_is_used_or_refused():
    """The tables above cover every member botocore's model gives these operations: a
    member added to the model (or missed here) fails this test until it is decided."""
    for op in USED:
        refused = set(REFUSED.get(op, {}))
        assert not USED[op] & refused, op
        assert set(leaves(input_shape(op))) == USED[op] | refused, op


@pytest.fixture(scope="module")
def watch(server) -> str:
    if not DOOR_CLIP.is_file():
        pytest.skip("no hamilton clip: the server has no door stream")
    name = unique("members")
    server.client("admin").create_collection(CollectionId=name, Tags={"faceprint:consent-required": "false"})
    return name


def processor(watch: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"Name": name, "Input": {"KinesisVideoStream": {"Arn": DOOR}}, "Output": {"KinesisDataStream": {"Arn": KDS}}, "Settings": {"FaceSearch": {"CollectionId": watch}}, "RoleArn": ROLE, **extra}


def test_members_that_cannot_apply_are_refused_by_name(server, watch):
    rek = server.client("admin", retries={"max_attempts": 1})
    existing = unique("refusals")
    rek.create_stream_processor(**processor(watch, existing))
    calls: dict[str, Callable[..., Any]] = {
        "CreateStreamProcessor": lambda extra: rek.create_stream_processor(**{**processor(watch, unique("refused")), **extra}),
        "StartStreamProcessor": lambda extra: rek.start_stream_processor(Name=existing, **extra),
        "UpdateStreamProcessor": lambda extra: rek.update_stream_processor(Name=existing, **extra),
    }
    cases = [(op, member, extra, words) for op, table in REFUSED.items() for member, (extra, words) in table.items()]
    # values no local source can honour, in members that are otherwise used
    cases += [
        ("CreateStreamProcessor", "DataSharingPreference.OptIn=true", {"DataSharingPreference": {"OptIn": True}}, ("DataSharingPreference", "nothing")),
        ("UpdateStreamProcessor", "DataSharingPreferenceForUpdate.OptIn=true", {"DataSharingPreferenceForUpdate": {"OptIn": True}}, ("DataSharingPreferenceForUpdate",)),
        ("UpdateStreamProcessor", "ParametersToDelete=ConnectedHomeMinConfidence", {"ParametersToDelete": ["ConnectedHomeMinConfidence"]}, ("ConnectedHomeMinConfidence",)),
        ("StartStreamProcessor", "ProducerTimestamp in the past", {"StartSelector": {"KVSStreamStartSelector": {"ProducerTimestamp": int((time.time() - 3600) * 1000)}}}, ("ProducerTimestamp", "past")),
        ("StartStreamProcessor", "StartSelector without a selector", {"StartSelector": {"KVSStreamStartSelector": {}}}, ("KVSStreamStartSelector",)),
        ("CreateStreamProcessor", "a region with no shape", {"RegionsOfInterest": [{}]}, ("RegionsOfInterest[0]",)),
        ("CreateStreamProcessor", "a polygon of two points", {"RegionsOfInterest": [{"Polygon": [{"X": 0.1, "Y": 0.1}, {"X": 0.5, "Y": 0.5}]}]}, ("RegionsOfInterest[0].Polygon",)),
        ("CreateStreamProcessor", "a box off the frame", {"RegionsOfInterest": [{"BoundingBox": {"Left": 1.5, "Top": 0, "Width": 0.2, "Height": 0.2}}]}, ("RegionsOfInterest[0].BoundingBox",)),
    ]
    for op, member, extra, words in cases:
        with pytest.raises(rek.exceptions.InvalidParameterException) as exc:
            calls[op](extra)
        message = exc.value.response["Error"]["Message"]
        assert all(w in message for w in words), (op, member, message)
    assert rek.describe_stream_processor(Name=existing)["Status"] == "STOPPED"  # no refused start ran
    names = {p["Name"] for p in rek.list_stream_processors()["StreamProcessors"]}
    assert existing in names and not any(n.startswith("refused-") for n in names)
    rek.delete_stream_processor(Name=existing)


def test_used_members_come_back_as_configured(server, watch):
    rek, fp = server.client("admin"), server.client("admin", service="faceprint")
    name = unique("configured")
    regions = [
        {"BoundingBox": {"Width": 0.5, "Height": 1.0, "Left": 0.5, "Top": 0.0}},
        {"Polygon": [{"X": 0.0, "Y": 0.0}, {"X": 0.4, "Y": 0.0}, {"X": 0.2, "Y": 0.6}]},
    ]
    config = processor(watch, name, RegionsOfInterest=regions, DataSharingPreference={"OptIn": False}, Tags={"site": "hq"})
    config["Settings"]["FaceSearch"]["FaceMatchThreshold"] = 60.0
    create = input_shape("CreateStreamProcessor")
    assert set(leaves_set(create, config)) == USED["CreateStreamProcessor"]
    rek.create_stream_processor(**config)
    described = rek.describe_stream_processor(Name=name)
    for member in ("Input", "Output", "RoleArn", "Settings", "RegionsOfInterest", "DataSharingPreference"):
        assert described[member] == config[member], member
    assert "StatusMessage" not in described  # no counters there: GetStreamProcessorCounters has them
    assert rek.list_tags_for_resource(ResourceArn=described["StreamProcessorArn"])["Tags"] == {"site": "hq"}

    update = input_shape("UpdateStreamProcessor")
    changes = [
        {"Name": name, "RegionsOfInterestForUpdate": regions[::-1], "DataSharingPreferenceForUpdate": {"OptIn": False}},
        {"Name": name, "ParametersToDelete": ["RegionsOfInterest"]},
    ]
    assert set().union(*(leaves_set(update, c) for c in changes)) == USED["UpdateStreamProcessor"]
    rek.update_stream_processor(**changes[0])
    assert rek.describe_stream_processor(Name=name)["RegionsOfInterest"] == regions[::-1]
    rek.update_stream_processor(**changes[1])
    assert "RegionsOfInterest" not in rek.describe_stream_processor(Name=name)

    starts_at = int(time.time() * 1000) + 500
    start = {"Name": name, "StartSelector": {"KVSStreamStartSelector": {"ProducerTimestamp": starts_at}}, "StopSelector": {"MaxDurationInSeconds": 1}}
    assert set(leaves_set(input_shape("StartStreamProcessor"), start)) == USED["StartStreamProcessor"]
    rek.start_stream_processor(**start)
    try:
        counters = fp.get_stream_processor_counters(Name=name)
        assert counters["StartsAt"].timestamp() == pytest.approx(starts_at / 1000) and counters["StopAfterSeconds"] == 1
        deadline = time.time() + 90
        while rek.describe_stream_processor(Name=name)["Status"] != "STOPPED" and time.time() < deadline:
            time.sleep(0.5)
        assert rek.describe_stream_processor(Name=name)["Status"] == "STOPPED"  # the StopSelector ended it
        counters = fp.get_stream_processor_counters(Name=name)["Counters"]
        assert 0 < counters["FramesAnalyzed"] < 100  # about a second of a 30 fps clip, not all of it
        with pytest.raises(fp.exceptions.ResourceInUseException):  # no alerts to follow any more
            fp.stream_processor_events(Name=name)
    finally:
        if rek.describe_stream_processor(Name=name)["Status"] == "RUNNING":
            rek.stop_stream_processor(Name=name)
    rek.delete_stream_processor(Name=name)
