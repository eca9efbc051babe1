"""Locating, verifying and running model files. Nothing is loaded at import."""

from faceprint.models.files import locate, read_verified, verified_path
from faceprint.models.registry import ModelCard, Task, card, list_models, register

__all__ = ["ModelCard", "Task", "card", "list_models", "register", "locate", "read_verified", "verified_path"]
