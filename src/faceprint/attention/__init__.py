"""Attention over time: facing the camera, eyes closed and PERCLOS, per person and
per second, from the attributes the dense face mesh measures."""

from faceprint.attention.meter import AttentionMeter, AttentionRow, FACING_DEGREES
from faceprint.attention.plot import timeline_png
from faceprint.attention.rows import attention_rows, rows_csv

__all__ = ["AttentionMeter", "AttentionRow", "FACING_DEGREES", "attention_rows", "rows_csv", "timeline_png"]
