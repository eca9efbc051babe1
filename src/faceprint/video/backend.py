"""What video work needs from the layers below: an engine and a store.

The video layer sits above analysis and store and below the service, the API and the
CLI (see DESIGN.md). It names the two objects it uses instead of importing the
``Service`` that holds them; any object with these attributes will do, and
``faceprint.Service`` is one.
"""

from __future__ import annotations

from typing import Protocol

from faceprint.engine import Engine
from faceprint.store import StoreBackend


class Backend(Protocol):
    """An engine to analyse frames and a store holding the collections to search."""

    @property
    def engine(self) -> Engine: ...

    @property
    def store(self) -> StoreBackend: ...
