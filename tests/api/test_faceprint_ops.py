"""faceprint's own operations (FaceprintService.*) through botocore with faceprint's
published service model, and the AWS CLI against the server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from faceprint.api.model import MODELS_DIR
from tests.api.conftest import lfw_images, unique


def test_who_am_i(server):
    me = server.client("searcher", service="faceprint").who_am_i()
    assert me["Role"] == "searcher" and me["Purpose"] == "tests as searcher"
    assert "SearchFacesByImage" in me["Operations"] and "IndexFaces" not in me["Operations"]


@pytest.mark.data
def test_consent_audit_and_erasure(server):
    rek, fp = server.client("admin"), server.client("admin", service="faceprint")
    photo = lfw_images(1)[0].read_bytes()
    name = unique("lawful")
    rek.create_collection(CollectionId=name, Tags={"faceprint:purpose": "visitor badges"})
    tags = rek.list_tags_for_resource(ResourceArn=rek.describe_collection(CollectionId=name)["CollectionARN"])["Tags"]
    assert tags == {"faceprint:purpose": "visitor badges", "faceprint:consent-required": "true"}
    with pytest.raises(ClientError) as exc:  # consent that could never cover this collection
        fp.add_consent(Subject="carol", Basis="consent", Purpose="marketing", CollectionId=name)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    record = fp.add_consent(Subject="carol", Basis="consent", Purpose="visitor badges", CollectionId=name)["ConsentRecord"]
    assert record["Subject"] == "carol" and record["CollectionId"] == name
    assert any(r["Subject"] == "carol" for r in fp.list_consent(Subject="carol")["ConsentRecords"])
    rek.index_faces(CollectionId=name, Image={"Bytes": photo}, ExternalImageId="carol")
    assert rek.describe_collection(CollectionId=name)["FaceCount"] == 1

    # every call is in the audit log with the caller's key and its declared purpose
    events = fp.list_audit_events(CollectionId=name, MaxResults=50)["AuditEvents"]
    actions = [e["Action"] for e in events]
    assert [a for a in actions if a in ("CreateCollection", "AddConsent", "IndexFaces")] == ["CreateCollection", "AddConsent", "IndexFaces"]
    assert {"DescribeCollection", "ListTagsForResource"} <= set(actions)  # reads are audited too
    index = next(e for e in events if e["Action"] == "IndexFaces")
    assert index["Actor"] == server.keys["admin"][0] and json.loads(index["Detail"])["key_purpose"] == "tests as admin"

    assert fp.revoke_consent(Subject="carol")["ErasedFaceCount"] == 1
    assert rek.describe_collection(CollectionId=name)["FaceCount"] == 0
    assert fp.erase_subject(ExternalImageId="carol")["ErasedFaceCount"] == 0
    verdict = fp.verify_audit_log()
    assert verdict["Valid"] and verdict["EntryCount"] > 5


def test_access_keys_through_the_api(server):
    fp = server.client("admin", service="faceprint")
    made = fp.create_access_key(Role="indexer", Purpose="badge office enrolment")
    assert made["AccessKeyId"].startswith("FPAK") and len(made["SecretAccessKey"]) >= 40
    listed = {k["AccessKeyId"]: k for k in fp.list_access_keys()["AccessKeys"]}
    assert listed[made["AccessKeyId"]]["Status"] == "ACTIVE" and "SecretAccessKey" not in listed[made["AccessKeyId"]]
    with pytest.raises(ClientError) as exc:
        fp.create_access_key(Role="superuser", Purpose="x")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"


def _aws(server, *args: str) -> subprocess.CompletedProcess[str]:
    key_id, secret = server.keys["admin"]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_DATA_PATH": str(MODELS_DIR),
    }
    aws = Path(sys.executable).with_name("aws")
    return subprocess.run([str(aws), *args, "--endpoint-url", server.url, "--output", "json"], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.data
def test_aws_cli(server, tmp_path):
    name = unique("cli")
    photos = lfw_images(2)
    created = _aws(server, "rekognition", "create-collection", "--collection-id", name, "--tags", "faceprint:consent-required=false")
    assert created.returncode == 0, created.stderr
    indexed = _aws(server, "rekognition", "index-faces", "--collection-id", name, "--image-bytes", f"fileb://{photos[0]}", "--external-image-id", "dana")
    assert indexed.returncode == 0, indexed.stderr
    found = _aws(server, "rekognition", "search-faces-by-image", "--collection-id", name, "--image-bytes", f"fileb://{photos[0]}")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["FaceMatches"][0]["Face"]["ExternalImageId"] == "dana"
    missing = _aws(server, "rekognition", "describe-collection", "--collection-id", unique("absent"))
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr
    # faceprint's own operations from the same CLI, with the published model on AWS_DATA_PATH
    me = _aws(server, "faceprint", "who-am-i")
    assert me.returncode == 0 and json.loads(me.stdout)["Role"] == "admin", me.stderr
