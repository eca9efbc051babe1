"""Bytes to pixels, safely: decoding with limits, EXIF orientation, colour order."""

from faceprint.imaging.decode import FORMATS, DecodeLimits, ImageSource, image_size, load_image
from faceprint.imaging.draw import draw_faces

__all__ = ["FORMATS", "DecodeLimits", "ImageSource", "image_size", "load_image", "draw_faces"]
