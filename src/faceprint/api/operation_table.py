"""The operation table: every operation the server serves, declared once, next to its handler.

::

    @operation("SearchFacesByImage", roles=SEARCHERS, self_audited=True, takes_image=True)
    def search_faces_by_image(call: Call) -> dict[str, Any]: ...

The decorator records an :class:`Operation` in one registry. The gateway reads it to
dispatch, to audit and to name a too-large body's error; roles.py reads it to say who
may call what (the guard, WhoAmI and docs/api.md's role table follow from that). An
operation's name, handler, roles and flags are in one place, so they cannot drift apart
as four hand-kept lists did.

To add an operation: write its handler in one of ``HANDLER_MODULES`` (a new module
goes in that tuple too), decorate it with :func:`operation`, naming the roles that may
call it, and mark ``self_audited`` if the library call it makes writes its own audit
entry. Nothing else registers it: dispatch, the role guard and WhoAmI read this table.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

if TYPE_CHECKING:
    from faceprint.api.operations import Call

# The modules that declare operations: importing them fills the table.
HANDLER_MODULES = ("faceprint.api.operations", "faceprint.api.video_operations", "faceprint.api.liveness_operations")

# A response body, or (StreamProcessorEvents) a video_operations.EventStream.
Handler = Callable[["Call"], Any]


@dataclass(frozen=True)
class Operation:
    """One operation: its handler, who may call it, and how the gateway treats it.

    Attributes:
        name: the operation's name in its service model (X-Amz-Target's part after the dot).
        handler: checked parameters in (a :class:`~faceprint.api.operations.Call`), a
            response body out; it runs on the inference pool.
        roles: the roles whose access keys may call it; admin is in every set.
        self_audited: its library call writes its own audit entry, so the gateway does
            not record a second one (every other call is recorded by the gateway).
        takes_image: its body carries images, so a body over the size limit is answered
            ImageTooLargeException, as Rekognition does, rather than a plain too-large error.
    """

    name: str
    handler: Handler
    roles: frozenset[str]
    self_audited: bool = False
    takes_image: bool = False


_TABLE: dict[str, Operation] = {}
_VIEW: Mapping[str, Operation] = MappingProxyType(_TABLE)


def operation(name: str, *, roles: Iterable[str], self_audited: bool = False, takes_image: bool = False) -> Callable[[Handler], Handler]:
    """Declare an operation: the decorated function is its handler.

    Args:
        name: the operation's name in the Rekognition or faceprint service model.
        roles: who may call it (roles.py's sets, such as ``SEARCHERS | INDEXERS``).
        self_audited: see :class:`Operation`.
        takes_image: see :class:`Operation`.

    Returns:
        A decorator that records the entry and returns the function unchanged.

    Raises:
        ValueError: ``name`` was already declared (each operation has one entry).

    Example:
        >>> @operation("WhoAmI", roles=EVERYONE)  # doctest: +SKIP
        ... def who_am_i(call: Call) -> dict[str, Any]: ...
    """

    def register(fn: Handler) -> Handler:
        if name in _TABLE:
            raise ValueError(f"operation {name} is declared twice: by {_TABLE[name].handler.__qualname__} and {fn.__qualname__}")
        _TABLE[name] = Operation(name, fn, frozenset(roles), self_audited=self_audited, takes_image=takes_image)
        return fn

    return register


def operations() -> Mapping[str, Operation]:
    """Every declared operation, by name (a read-only view).

    Returns:
        The table, with every module in ``HANDLER_MODULES`` imported first, so a caller
        that imported none of them (the guard, a test) still sees every operation.

    Example:
        >>> operations()["DetectFaces"].takes_image
        True
    """
    _load()
    return _VIEW


def find(name: str) -> Operation | None:
    """The operation called ``name``, or None where the server does not serve it.

    Example:
        >>> find("IndexFaces").self_audited, find("NoSuchOperation")
        (True, None)
    """
    return operations().get(name)


@functools.cache
def _load() -> None:
    for module in HANDLER_MODULES:
        importlib.import_module(module)

