"""Detect, align, assess quality and embed faces: the per-image pipeline."""

from faceprint.analysis.align import align_face
from faceprint.analysis.detect import YuNetDetector
from faceprint.analysis.embed import EMBEDDERS, make_embedder
from faceprint.analysis.pipeline import MODES, Analyzer

__all__ = ["Analyzer", "MODES", "YuNetDetector", "EMBEDDERS", "make_embedder", "align_face"]
