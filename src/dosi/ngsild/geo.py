"""Exact geo predicates with shapely, and the metre/degree helpers both backends share.

`near` distances are metres on a sphere (haversine); other relations are planar on lon/lat.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

import orjson
from shapely import geometry as sg
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points
from shapely.validation import make_valid

from dosi.ngsild.model import bbox
from dosi.ngsild.query import GeoQuery

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180


def haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi = p2 - p1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def near_box(lon: float, lat: float, metres: float) -> tuple[float, float, float, float]:
    """A lon/lat box that contains every point within `metres` of (lon, lat)."""
    dlat = metres / METRES_PER_DEGREE
    cos_lat = math.cos(math.radians(min(89.9, abs(lat) + dlat)))
    dlon = 180.0 if cos_lat <= 1e-6 else min(180.0, dlat / cos_lat)
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def near_boxes(lon: float, lat: float, metres: float) -> list[tuple[float, float, float, float]]:
    """`near_box` cut at the antimeridian: one or two boxes inside -180..180 that together contain it."""
    minx, miny, maxx, maxy = near_box(lon, lat, metres)
    if maxx - minx >= 360:
        return [(-180.0, miny, 180.0, maxy)]
    if minx < -180:
        return [(minx + 360, miny, 180.0, maxy), (-180.0, miny, maxx, maxy)]
    if maxx > 180:
        return [(minx, miny, 180.0, maxy), (-180.0, miny, maxx - 360, maxy)]
    return [(minx, miny, maxx, maxy)]


def candidate_boxes(geo: GeoQuery) -> list[tuple[float, float, float, float]] | None:
    """The lon/lat boxes a matching geometry's box meets (None: any geometry may match)."""
    if geo.georel == "near" and geo.max_distance is not None:
        lon, lat = geo.geometry["coordinates"][:2]
        return near_boxes(lon, lat, geo.max_distance)
    if geo.georel in ("within", "intersects", "equals", "overlaps", "contains"):
        return [bbox(geo.geometry)]
    return None


@lru_cache(maxsize=1024)
def shape_of(text: str) -> BaseGeometry:
    """A valid shapely geometry (self-intersecting polygons are repaired, as PostGIS's ST_MakeValid does)."""
    shape = sg.shape(json.loads(text))
    return shape if shape.is_valid else make_valid(shape)


@lru_cache(maxsize=4096)
def _point(text: str) -> tuple[float, float] | None:
    """(lon, lat) of a GeoJSON Point, or None for any other geometry."""
    if '"Point"' not in text[:24]:
        return None
    try:
        value = orjson.loads(text)
        lon, lat = value["coordinates"][:2]
        return float(lon), float(lat)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def sphere_distance(point: BaseGeometry, other: BaseGeometry) -> float:
    """Metres from a point to the nearest part of a geometry (0 inside polygons)."""
    if other.geom_type == "Point":
        return haversine(point.x, point.y, other.x, other.y)
    if other.contains(point):
        return 0.0
    near = nearest_points(point, other)[1]
    return haversine(point.x, point.y, near.x, near.y)


def matches(stored: str, rel: str, query: str, max_d: float | None, min_d: float | None) -> bool:
    """The exact predicate: stored geometry <rel> query geometry."""
    if rel == "near":
        points = _point(stored), _point(query)
        if points[0] is not None and points[1] is not None:  # the common case, without shapely
            distance = haversine(*points[1], *points[0])
            return not ((max_d is not None and distance > max_d) or (min_d is not None and distance < min_d))
    try:
        shape = shape_of(stored)
        target = shape_of(query)
    except (ValueError, TypeError, AttributeError):
        return False
    if rel == "near":
        distance = sphere_distance(target, shape)
        if max_d is not None and distance > max_d:
            return False
        return not (min_d is not None and distance < min_d)
    predicate: Any = {
        "within": shape.within,
        "contains": shape.contains,
        "intersects": shape.intersects,
        "equals": shape.equals,
        "disjoint": shape.disjoint,
        "overlaps": shape.overlaps,
    }[rel]
    return bool(predicate(target))
