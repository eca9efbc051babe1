"""Scores, calibration (score <-> false-match rate) and small in-memory galleries."""

from faceprint.matching.calibration import CalibrationTable, load_calibration, similarity_from_fmr, fmr_from_similarity
from faceprint.matching.scores import cosine_matrix

__all__ = ["CalibrationTable", "load_calibration", "similarity_from_fmr", "fmr_from_similarity", "cosine_matrix"]
