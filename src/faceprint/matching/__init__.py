"""Scores, calibration (score <-> false-match rate) and small in-memory galleries."""

from faceprint.matching.bar import FaceBar
from faceprint.matching.calibration import CalibrationTable, fmr_from_similarity, load_calibration, similarity_from_fmr
from faceprint.matching.regions import UNREACHABLE, RegionCalibration, load_regions
from faceprint.matching.scores import cosine_matrix

__all__ = ["CalibrationTable", "FaceBar", "RegionCalibration", "UNREACHABLE", "load_calibration", "load_regions", "similarity_from_fmr", "fmr_from_similarity", "cosine_matrix"]
