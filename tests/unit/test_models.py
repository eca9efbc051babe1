from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from faceprint.errors import AlreadyExists, InvalidParameter, ModelChecksumError, ModelNotAvailable, UnknownModel
from faceprint.models import Task, card, list_models, read_verified, register
from faceprint.models import registry


@pytest.fixture(autouse=True)
def _restore_registry():
    """Cards registered by a test are removed after it."""
    card("sface.2021dec")  # load the catalog first
    before = dict(registry._CARDS)
    yield
    registry._CARDS.clear()
    registry._CARDS.update(before)


def test_cards_are_declared_with_licences_and_checksums() -> None:
    names = {c.name for c in list_models()}
    assert {"yunet.2023mar", "sface.2021dec", "dlib.resnet_v1", "dlib.shape5"} <= names
    for c in list_models():
        assert len(c.sha256) == 64 and c.license and c.package
    assert [c.name for c in list_models(task=Task.DETECT)] == ["yunet.2023mar"]
    assert all(c.commercial_use for c in list_models(commercial=True))


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UnknownModel, match="sface.2021dec"):
        card("sface.2021")
    with pytest.raises(InvalidParameter):
        list_models(task="segmentation")


def test_a_different_card_cannot_silently_take_a_name() -> None:
    with pytest.raises(AlreadyExists):
        register(replace(card("sface.2021dec"), sha256="0" * 64))


def test_altered_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "model.onnx"
    f.write_bytes(b"original")
    good = register(replace(card("sface.2021dec"), name="test.altered", package="", module="", path=str(f), sha256=hashlib.sha256(b"original").hexdigest()))
    assert read_verified(good) == b"original"
    f.write_bytes(b"tampered")
    with pytest.raises(ModelChecksumError, match="altered or corrupted"):
        read_verified(good)


def test_missing_package_names_what_to_install() -> None:
    c = register(replace(card("sface.2021dec"), name="test.missing", package="nonexistent-pkg==1.0", module="nonexistent_pkg_xyz"))
    with pytest.raises(ModelNotAvailable, match="pip install 'nonexistent-pkg==1.0'"):
        read_verified(c)


def test_missing_file_in_installed_package() -> None:
    c = register(replace(card("sface.2021dec"), name="test.nofile", path="models/not_there.onnx"))
    with pytest.raises(ModelNotAvailable, match="missing"):
        read_verified(c)
