"""Bytes to pixels and back, safely: decoding with limits, EXIF orientation, colour
order; box fractions; JPEG encoding; annotation."""

from faceprint.imaging.boxes import box_fractions
from faceprint.imaging.decode import FORMATS, DecodeLimits, ImageSource, image_size, load_image
from faceprint.imaging.draw import draw_faces
from faceprint.imaging.jpeg import encode_jpeg

__all__ = ["FORMATS", "DecodeLimits", "ImageSource", "image_size", "load_image", "draw_faces", "box_fractions", "encode_jpeg"]
