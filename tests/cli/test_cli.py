"""The command line, driven through Click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceprint.cli.main import cli

EX = Path("people/face_recognition/examples")


def run(*args: str) -> tuple[int, str]:
    """Exit status and everything printed (stdout, then stderr)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def test_models_lists_every_model_with_checksums() -> None:
    code, out = run("models", "--json")
    assert code == 0
    rows = json.loads(out)
    assert {r["name"] for r in rows} >= {"yunet.2023mar", "sface.2021dec", "dlib.resnet_v1"}
    assert all(len(r["sha256"]) == 64 and r["license"] and r["package"] and "MISSING" not in r["file"] for r in rows)


@pytest.mark.models
def test_detect_json_and_annotate(data: Path, tmp_path: Path) -> None:
    code, out = run("detect", str(data / EX / "two_people.jpg"), "--json", "--annotate", str(tmp_path))
    assert code == 0
    doc = json.loads(out)
    assert len(doc[0]["faces"]) == 2
    face = doc[0]["faces"][0]
    assert set(face) == {"xyxy", "confidence", "landmarks", "quality"} and len(face["landmarks"]) == 5
    assert (tmp_path / "two_people.jpg").is_file()


@pytest.mark.parametrize(("payload", "code"), [(b"", 3), (b"\xff\xd8\xff\xe0 truncated", 3), (None, 2)])
def test_detect_bad_input_exits_with_status(tmp_path: Path, payload: bytes | None, code: int) -> None:
    bad = tmp_path / "bad.jpg"
    if payload is not None:
        bad.write_bytes(payload)  # None: the file does not exist
    status, out = run("detect", str(bad))
    assert status == code


@pytest.mark.models
def test_compare(data: Path) -> None:
    code, out = run("compare", str(data / EX / "obama.jpg"), str(data / EX / "knn_examples/test/obama_and_biden.jpg"), "--json")
    assert code == 0
    doc = json.loads(out)
    assert sum(f["match"] for f in doc["faces"]) == 1


@pytest.mark.models
def test_compare_without_source_face_exits_4(data: Path, tmp_path: Path) -> None:
    from PIL import Image

    from tests.factories import gradient

    blank = tmp_path / "blank.png"
    Image.fromarray(gradient(200, 200)).save(blank)
    code, out = run("compare", str(blank), str(data / EX / "obama.jpg"))
    assert code == 4 and "no face" in out


@pytest.mark.models
def test_identify_like_face_recognition(data: Path) -> None:
    knn = data / EX / "knn_examples"
    result = CliRunner().invoke(cli, ["identify", "--gallery", str(knn / "train"), str(knn / "test" / "obama1.jpg"), str(knn / "test" / "obama_and_biden.jpg")])
    assert result.exit_code == 0
    lines = [ln.split(",") for ln in result.stdout.strip().splitlines()]
    assert all(len(ln) == 4 for ln in lines)
    people = {(Path(f).name, p) for f, p, _, _ in lines}
    assert ("obama1.jpg", "obama") in people
    assert {p for f, p in people if f == "obama_and_biden.jpg"} >= {"obama", "biden"}
    for _, _, sim, fmr in lines:
        assert 0 <= float(sim) <= 100
        # a rate from the extrapolated tail is marked, e.g. "~5e-10*"
        assert 0 < float(fmr.strip("~*")) <= 1 and (fmr.startswith("~") == fmr.endswith("*"))


@pytest.mark.models
def test_eval_verify_folder_json_keys(data: Path, tmp_path: Path) -> None:
    code, out = run("eval", "verify", str(data / EX / "knn_examples/train"), "--json", "--cache-dir", str(tmp_path))
    assert code == 0
    assert set(json.loads(out)) == {"tar_at_far", "genuine_pairs", "impostor_pairs"}


@pytest.mark.models
def test_demo_writes_report(data: Path, tmp_path: Path) -> None:
    code, out = run("demo", "--out", str(tmp_path))
    assert code == 0, out
    assert (tmp_path / "report.html").is_file()
    assert len(list(tmp_path.glob("*.annotated.jpg"))) >= 5
    assert "obama" in out


def test_demo_without_data_uses_a_bundled_portrait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEPRINT_DATA", str(tmp_path / "nowhere"))
    code, out = run("demo", "--out", str(tmp_path / "out"))
    assert code == 0, out
    assert "FACEPRINT_DATA" in out
    assert out.count("grace_hopper") >= 3  # each probe is named
