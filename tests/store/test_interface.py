"""The SQLite store implements the backend interface (interface.py) part by part, so a
second backend has one list to meet and callers one set of names to use."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from faceprint.store.interface import PARTS, StoreBackend


def _verbs(protocol: type) -> list[str]:
    return [n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")]


def _parameters(fn: object) -> list[tuple[str, object, object]]:
    # names, kinds and defaults; annotations are text under postponed evaluation
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("part", sorted(PARTS))
def test_each_part_has_the_interface_verbs_with_their_parameters(open_store, part: str) -> None:
    with open_store() as store:
        impl = getattr(store, part)
        for verb in _verbs(PARTS[part]):
            assert hasattr(impl, verb), f"store.{part} lacks {verb}"
            assert _parameters(getattr(impl, verb)) == _parameters(getattr(PARTS[part], verb))[1:], f"store.{part}.{verb}"
        for attribute in getattr(PARTS[part], "__annotations__", {}):
            assert hasattr(impl, attribute), f"store.{part} lacks {attribute}"


def test_the_store_names_every_part_and_the_root_verbs(open_store) -> None:
    with open_store() as store:
        for name in StoreBackend.__annotations__:
            assert hasattr(store, name), name
        for verb in _verbs(StoreBackend):
            assert _parameters(getattr(store, verb)) == _parameters(getattr(StoreBackend, verb))[1:], verb


def test_no_part_reaches_into_another_by_inheritance() -> None:
    """Each part is given what it uses; none needs ``type: ignore[attr-defined]``."""
    folder = Path(__file__).parents[2] / "src" / "faceprint" / "store"
    assert not [p.name for p in folder.glob("*.py") if "ignore[attr-defined]" in p.read_text()]
