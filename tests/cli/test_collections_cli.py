"""A CLI session over a real store: collection, consent, index, search, erase, audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceprint.cli.main import cli

pytestmark = pytest.mark.models
TRAIN = Path("people/face_recognition/examples/knn_examples/train")
EX = Path("people/face_recognition/examples")


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEPRINT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FACEPRINT_KEY", raising=False)
    monkeypatch.delenv("FACEPRINT_KEY_FILE", raising=False)

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        return result.exit_code, result.stdout + result.stderr

    return invoke


def test_session(run, data):
    assert run("collection", "create", "watch", "--purpose", "find people")[0] == 0
    code, out = run("collection", "create", "watch", "--purpose", "find people")
    assert code == 6 and "already exists" in out
    code, out = run("index", "watch", str(data / TRAIN))
    assert code == 7 and "refused" in out and "obama" in out  # no consent yet
    people = sorted(p.name for p in (data / TRAIN).iterdir() if p.is_dir())
    for person in people:
        assert run("consent", "add", person, "--basis", "consent", "--purpose", "find people", "--expires", "2999-01-01")[0] == 0
    code, out = run("index", "watch", str(data / TRAIN))
    assert code == 0 and "indexed" in out
    code, out = run("collection", "describe", "watch", "--json")
    doc = json.loads(out)
    assert doc["UserCount"] == len(people) and doc["FaceCount"] >= len(people)
    code, out = run("search", "watch", str(data / EX / "obama2.jpg"), "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["FaceMatches"] and {m["Face"]["ExternalImageId"] for m in doc["FaceMatches"]} == {"obama"}
    code, out = run("search", "watch", str(data / EX / "obama2.jpg"), "--users")
    assert code == 0 and out.splitlines()[1].split()[0] == "obama"
    code, out = run("faces", "list", "watch", "--json", "--max-results", "2")
    assert len(json.loads(out)["Faces"]) == 2 and "NextToken" in json.loads(out)
    code, out = run("erase", "--external-image-id", "obama")
    assert code == 0 and "erased" in out
    code, out = run("search", "watch", str(data / EX / "obama2.jpg"), "--json")
    assert all(m["Face"]["ExternalImageId"] != "obama" for m in json.loads(out)["FaceMatches"])
    code, out = run("consent", "revoke", "biden")
    assert code == 0 and "erased" in out
    code, out = run("audit", "show", "--action", "SearchFacesByImage", "--json")
    entries = json.loads(out)
    assert len(entries) == 2 and all(e["purpose"] == "find people" for e in entries)
    code, out = run("audit", "verify")
    assert code == 0 and "intact" in out


def test_errors_have_exit_statuses(run, data):
    code, out = run("search", "nowhere", str(data / EX / "obama.jpg"))
    assert code == 6 and "does not exist" in out
    code, out = run("collection", "create", "bad name", "--purpose", "x")
    assert code == 2
    code, out = run("consent", "add", "x", "--basis", "consent", "--purpose", "p", "--expires", "yesterday")
    assert code == 2


def test_commands_follow_the_collections_embedder(run, data):
    """A collection made with dlib's ResNet is indexed, searched and watched for with
    dlib without repeating --embedder (before: index refused it with no hint, search
    failed and video search reported 0 identifications); naming another embedder gets
    an error that says which one the collection needs."""
    lin = str(data / EX / "lin-manuel-miranda.png")
    code, out = run("collection", "create", "lin", "--purpose", "watch list", "--no-consent-required", "--embedder", "dlib.resnet_v1")
    assert code == 0 and "dlib.resnet_v1/" in out
    code, out = run("index", "lin", lin, "--external-image-id", "lin")
    assert code == 0 and "indexed 1 faces" in out
    code, out = run("search", "lin", lin)
    assert code == 0 and "1 match(es)" in out
    code, out = run("video", "search", str(data / EX / "short_hamilton_clip.mp4"), "--collection", "lin", "--json")
    assert code == 0 and json.loads(out[out.index("{") :])["Persons"]
    code, out = run("search", "lin", lin, "--embedder", "sface.2021dec")
    assert code != 0 and "use the dlib.resnet_v1 embedder" in out
