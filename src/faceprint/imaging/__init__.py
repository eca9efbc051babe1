"""Bytes to pixels, safely: decoding with limits, EXIF orientation, colour order."""

from faceprint.imaging.decode import DecodeLimits, ImageSource, load_image
from faceprint.imaging.draw import draw_faces

__all__ = ["DecodeLimits", "ImageSource", "load_image", "draw_faces"]
