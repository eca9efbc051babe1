"""Tags through boto3: CreateCollection keeps every tag, TagResource / UntagResource /
ListTagsForResource work on collections and stream processors, named by the ARNs this
server returns or by AWS-style ARNs (any region and account)."""

from __future__ import annotations

import pytest

from tests.api.conftest import DATA, unique

PURPOSE, CONSENT, RETENTION = "faceprint:purpose", "faceprint:consent-required", "faceprint:retention-days"
DOOR_CLIP = DATA / "people" / "face_recognition" / "examples" / "short_hamilton_clip.mp4"


def aws_arn(kind: str, name: str) -> str:
    return f"arn:aws:rekognition:eu-west-1:123456789012:{kind}/{name}"


def test_collection_tags_are_kept_changed_and_removed(server):
    rek = server.client("admin")
    name = unique("tags")
    arn = rek.create_collection(CollectionId=name, Tags={"team": "door-ops", "cost-centre": "42", CONSENT: "false"})["CollectionArn"]
    governance = {PURPOSE: "tests as admin", CONSENT: "false"}
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "door-ops", "cost-centre": "42", **governance}
    assert rek.list_tags_for_resource(ResourceArn=aws_arn("collection", name))["Tags"] == {"team": "door-ops", "cost-centre": "42", **governance}

    rek.tag_resource(ResourceArn=aws_arn("collection", name), Tags={"team": "security", "site": "hq"})
    rek.untag_resource(ResourceArn=arn, TagKeys=["cost-centre", "never-set"])
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "security", "site": "hq", **governance}

    # governance is fixed when the collection is made: a tag call cannot loosen it
    for call, key in (
        (lambda: rek.tag_resource(ResourceArn=arn, Tags={CONSENT: "true"}), CONSENT),
        (lambda: rek.untag_resource(ResourceArn=arn, TagKeys=[PURPOSE]), PURPOSE),
        (lambda: rek.tag_resource(ResourceArn=arn, Tags={RETENTION: "1"}), RETENTION),
    ):
        with pytest.raises(rek.exceptions.InvalidParameterException) as exc:
            call()
        assert key in exc.value.response["Error"]["Message"]
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"][CONSENT] == "false"

    # tags end with their collection: a new one under the same name starts bare
    rek.delete_collection(CollectionId=name)
    with pytest.raises(rek.exceptions.ResourceNotFoundException):
        rek.tag_resource(ResourceArn=arn, Tags={"team": "x"})
    rek.create_collection(CollectionId=name)
    assert "team" not in rek.list_tags_for_resource(ResourceArn=arn)["Tags"]
    rek.delete_collection(CollectionId=name)


def test_resource_arns_that_name_nothing_here(server):
    rek = server.client("admin", retries={"max_attempts": 1})
    with pytest.raises(rek.exceptions.ResourceNotFoundException):
        rek.list_tags_for_resource(ResourceArn=aws_arn("collection", unique("absent")))
    with pytest.raises(rek.exceptions.ResourceNotFoundException):
        rek.untag_resource(ResourceArn=aws_arn("streamprocessor", unique("absent")), TagKeys=["a"])
    for arn in ("arn:aws:s3:::a-bucket/a-key", "arn:aws:rekognition:us-east-1:123456789012:project/p/1", "not an arn at all, just text"):
        with pytest.raises(rek.exceptions.InvalidParameterException) as exc:
            rek.list_tags_for_resource(ResourceArn=arn)
        assert "collection/NAME" in exc.value.response["Error"]["Message"]


def test_tags_within_rekognitions_limits(server):
    rek = server.client("admin", retries={"max_attempts": 1})
    name = unique("limits")
    # faceprint:purpose and faceprint:consent-required are always tags of a collection
    with pytest.raises(rek.exceptions.InvalidParameterException) as exc:
        rek.create_collection(CollectionId=name, Tags={f"k{i}": "v" for i in range(199)})
    assert "200" in exc.value.response["Error"]["Message"]
    arn = rek.create_collection(CollectionId=name, Tags={f"k{i}": "v" for i in range(198)})["CollectionArn"]
    assert len(rek.list_tags_for_resource(ResourceArn=arn)["Tags"]) == 200
    with pytest.raises(rek.exceptions.InvalidParameterException):
        rek.tag_resource(ResourceArn=arn, Tags={"one-more": "v"})
    rek.tag_resource(ResourceArn=arn, Tags={"k0": "replaced"})  # replacing adds nothing
    for bad in ({"aws:owner": "me"}, {"a<b": "v"}, {"k": "semi;colon"}, {"faceprint:colour": "blue"}):
        with pytest.raises(rek.exceptions.InvalidParameterException):
            rek.tag_resource(ResourceArn=arn, Tags=bad)
        with pytest.raises(rek.exceptions.InvalidParameterException):
            rek.create_collection(CollectionId=unique("bad-tags"), Tags=bad)
    rek.delete_collection(CollectionId=name)


@pytest.mark.data
def test_stream_processor_tags(server):
    if not DOOR_CLIP.is_file():
        pytest.skip("no hamilton clip: the server has no door stream")
    rek = server.client("admin")
    collection, name = unique("tags-watch"), unique("tagged")
    rek.create_collection(CollectionId=collection, Tags={CONSENT: "false"})
    arn = rek.create_stream_processor(
        Name=name,
        Input={"KinesisVideoStream": {"Arn": "arn:aws:kinesisvideo:us-east-1:123456789012:stream/door/1"}},
        Output={"KinesisDataStream": {"Arn": "arn:aws:kinesis:us-east-1:123456789012:stream/alerts"}},
        Settings={"FaceSearch": {"CollectionId": collection}},
        RoleArn="arn:aws:iam::123456789012:role/rekognition",
        Tags={"site": "hq"},
    )["StreamProcessorArn"]
    assert rek.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"site": "hq"}
    rek.tag_resource(ResourceArn=aws_arn("streamprocessor", name), Tags={"floor": "1"})
    rek.untag_resource(ResourceArn=arn, TagKeys=["site"])
    assert rek.list_tags_for_resource(ResourceArn=aws_arn("streamprocessor", name))["Tags"] == {"floor": "1"}
    rek.delete_stream_processor(Name=name)
    rek.delete_collection(CollectionId=collection)
