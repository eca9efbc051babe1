"""Regions of interest: the parts of a frame where faces are searched.

A region is Rekognition's ``RegionOfInterest``: a ``BoundingBox`` or a ``Polygon`` of
3 to 10 points, in fractions of the frame's width and height. As Rekognition defines
it, a face belongs to a region when more than half of its box lies inside that region;
with several regions, any one will do (halves in two regions do not add up). No
regions means the whole frame.

Example:
    >>> regions = parse([{"BoundingBox": {"Left": 0.5, "Top": 0, "Width": 0.5, "Height": 1}}])
    >>> inside(np.array([[0.6, 0.1, 0.8, 0.3], [0.1, 0.1, 0.3, 0.3]]), regions).tolist()
    [True, False]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from faceprint.errors import InvalidParameter

Polygon = list[tuple[float, float]]

MAX_POINTS = 10  # Rekognition's limit on a polygon
_EPS = 1e-9  # rounding in a caller's 0.1 + 0.9


def parse(regions: list[dict[str, Any]], member: str = "RegionsOfInterest") -> list[Polygon]:
    """Rekognition's RegionsOfInterest as polygons, each checked to be an area of the frame.

    Raises:
        InvalidParameter: naming the region (``member[i]...``) and what is wrong.
    """
    out: list[Polygon] = []
    for i, region in enumerate(regions):
        where = f"{member}[{i}]"
        shapes = [k for k in ("BoundingBox", "Polygon") if k in region]
        if len(shapes) != 1:
            raise InvalidParameter(f"{where} must give a BoundingBox or a Polygon (one of the two)")
        polygon = _box(region["BoundingBox"], f"{where}.BoundingBox") if shapes[0] == "BoundingBox" else _polygon(region["Polygon"], f"{where}.Polygon")
        out.append(polygon)
    return out


def inside(boxes: np.ndarray, regions: list[Polygon]) -> np.ndarray:
    """For each box (rows of x0, y0, x1, y1 in fractions of the frame): is more than half
    of it inside one of the regions? All true when there are no regions."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    keep = np.ones(len(boxes), bool) if not regions else np.zeros(len(boxes), bool)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        area = (x1 - x0) * (y1 - y0)
        if regions and area > 0:
            keep[i] = any(_area(_clip(polygon, x0, y0, x1, y1)) > area / 2 for polygon in regions)
    return keep


# -- checks -----------------------------------------------------------------------------
def _box(box: dict[str, Any], where: str) -> Polygon:
    for name in ("Left", "Top", "Width", "Height"):
        if name not in box:
            raise InvalidParameter(f"{where}.{name} is required")
    left, top, width, height = (float(box[k]) for k in ("Left", "Top", "Width", "Height"))
    if not (width > 0 and height > 0 and 0 <= left and 0 <= top and left + width <= 1 + _EPS and top + height <= 1 + _EPS):
        raise InvalidParameter(f"{where} must lie within the frame (Left, Top, Width and Height are fractions of it; Width and Height above 0)")
    return [(left, top), (left + width, top), (left + width, top + height), (left, top + height)]


def _polygon(points: list[dict[str, Any]], where: str) -> Polygon:
    if not 3 <= len(points) <= MAX_POINTS:
        raise InvalidParameter(f"{where} must have 3 to {MAX_POINTS} points, not {len(points)}")
    polygon: Polygon = []
    for j, point in enumerate(points):
        for name in ("X", "Y"):
            if name not in point:
                raise InvalidParameter(f"{where}[{j}].{name} is required")
        x, y = float(point["X"]), float(point["Y"])
        if not (0 <= x <= 1 and 0 <= y <= 1):
            raise InvalidParameter(f"{where}[{j}] must lie within the frame (X and Y are fractions of it, 0 to 1)")
        polygon.append((x, y))
    if _area(polygon) <= _EPS:
        raise InvalidParameter(f"{where} encloses no area (its points lie on one line)")
    return polygon


# -- geometry ---------------------------------------------------------------------------
def _area(polygon: Polygon) -> float:
    """Shoelace area (the absolute value, whichever way the points turn)."""
    if len(polygon) < 3:
        return 0.0
    s = 0.0
    for (ax, ay), (bx, by) in zip(polygon, polygon[1:] + polygon[:1]):
        s += ax * by - bx * ay
    return abs(s) / 2


def _clip(polygon: Polygon, x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """The part of ``polygon`` inside the box (Sutherland-Hodgman against its four edges;
    the box is convex, so this holds for concave regions too)."""
    edges = (
        (lambda p: p[0] >= x0, lambda a, b: _at_x(a, b, x0)),
        (lambda p: p[0] <= x1, lambda a, b: _at_x(a, b, x1)),
        (lambda p: p[1] >= y0, lambda a, b: _at_y(a, b, y0)),
        (lambda p: p[1] <= y1, lambda a, b: _at_y(a, b, y1)),
    )
    out = polygon
    for keep, cross in edges:
        points, out = out, []
        for i, b in enumerate(points):
            a = points[i - 1]
            if keep(b):
                if not keep(a):
                    out.append(cross(a, b))
                out.append(b)
            elif keep(a):
                out.append(cross(a, b))
        if not out:
            break
    return out


def _at_x(a: tuple[float, float], b: tuple[float, float], x: float) -> tuple[float, float]:
    t = (x - a[0]) / (b[0] - a[0])
    return (x, a[1] + t * (b[1] - a[1]))


def _at_y(a: tuple[float, float], b: tuple[float, float], y: float) -> tuple[float, float]:
    t = (y - a[1]) / (b[1] - a[1])
    return (a[0] + t * (b[0] - a[0]), y)
