"""Zones and privacy masks: outline validation in plain words, and point-in-polygon."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from shapely.geometry import Point as ShapelyPoint  # type: ignore[import-untyped]
from shapely.geometry import Polygon as ShapelyPolygon

from orin.cameras.geometry import (
    Point,
    Polygon,
    PrivacyMask,
    Zone,
    Zones,
    point_in_polygon,
    polygon_area,
    polygon_problem,
    validate_zone_names_unique,
)

SQUARE: list[Point] = [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)]
# An L shape: the notch (0.5..0.9, 0.5..0.9) is outside.
L_SHAPE: list[Point] = [(0.1, 0.1), (0.9, 0.1), (0.9, 0.5), (0.5, 0.5), (0.5, 0.9), (0.1, 0.9)]
# A U shape opening upwards: the slot (0.4..0.6, 0.1..0.7) is outside.
U_SHAPE: list[Point] = [
    (0.2, 0.1),
    (0.4, 0.1),
    (0.4, 0.7),
    (0.6, 0.7),
    (0.6, 0.1),
    (0.8, 0.1),
    (0.8, 0.9),
    (0.2, 0.9),
]
POLYGON = TypeAdapter(Polygon)


def zone_error(polygon: Any, name: str = "porch") -> str:
    with pytest.raises(ValidationError) as caught:
        Zone.model_validate({"name": name, "polygon": polygon})
    errors = caught.value.errors()
    assert len(errors) == 1
    return str(errors[0]["msg"])


def test_valid_concave_zone_is_accepted() -> None:
    zone = Zone(name="  Back yard_2 ", polygon=L_SHAPE, color="#FF8800")
    assert zone.name == "Back yard_2"
    assert zone.color == "#ff8800"
    assert zone.polygon == L_SHAPE
    assert zone.contains((0.2, 0.8))
    assert not zone.contains((0.7, 0.7))


def test_zone_from_json_arrays() -> None:
    zone = Zone.model_validate_json('{"name": "Drive", "polygon": [[0, 0], [1, 0], [1, 1]]}')
    assert zone.polygon == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]


def test_bow_tie_is_refused_as_crossing_itself() -> None:
    bow_tie = [(0.1, 0.1), (0.9, 0.9), (0.9, 0.1), (0.1, 0.9)]
    assert zone_error(bow_tie) == "zone 'porch': the outline crosses itself"


def test_outline_touching_itself_is_refused() -> None:
    # Point 4 lies on the edge from point 1 to point 2.
    touching = [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.5, 0.1), (0.1, 0.9)]
    assert zone_error(touching) == "zone 'porch': the outline crosses itself"


@pytest.mark.parametrize(
    ("polygon", "number"),
    [
        ([(0.1, 0.1), (0.9, 0.1), (1.5, 0.5)], 3),
        ([(-0.01, 0.1), (0.9, 0.1), (0.5, 0.5)], 1),
        ([(0.1, 0.1), (0.9, 1.0001), (0.5, 0.5)], 2),
    ],
)
def test_point_outside_the_frame_is_refused(polygon: list[Point], number: int) -> None:
    assert zone_error(polygon) == (
        f"zone 'porch': point {number} is outside the frame: coordinates go from 0 to 1"
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_coordinates_are_refused(bad: float) -> None:
    assert zone_error([(0.1, 0.1), (bad, 0.1), (0.5, 0.5)]) == (
        "zone 'porch': point 2 is not a finite number"
    )


def test_two_points_are_refused() -> None:
    assert zone_error([(0.1, 0.1), (0.9, 0.9)]) == (
        "zone 'porch': an outline needs at least 3 points, this one has 2"
    )


def test_more_than_a_hundred_points_are_refused() -> None:
    circle = [
        (0.5 + 0.4 * math.cos(2 * math.pi * i / 101), 0.5 + 0.4 * math.sin(2 * math.pi * i / 101))
        for i in range(101)
    ]
    assert "at most 100 points" in zone_error(circle)
    POLYGON.validate_python(circle[:100])


def test_collinear_points_are_refused_as_enclosing_no_area() -> None:
    assert zone_error([(0.1, 0.1), (0.5, 0.5), (0.9, 0.9)]) == (
        "zone 'porch': all the points lie on one line, so the outline encloses no area"
    )
    assert "on one line" in zone_error([(0.1, 0.5), (0.3, 0.5), (0.9, 0.5), (0.6, 0.5)])


def test_repeated_points_are_refused() -> None:
    assert zone_error([(0.1, 0.1), (0.9, 0.1), (0.9, 0.1), (0.5, 0.9)]) == (
        "zone 'porch': point 3 repeats the point before it"
    )
    closed = [(0.1, 0.1), (0.9, 0.1), (0.5, 0.9), (0.1, 0.1)]
    assert "the last point repeats the first" in zone_error(closed)


def test_malformed_points_are_reported_by_number() -> None:
    message = zone_error([[0.1, 0.1], [0.9, "x"], [0.5, 0.9]])
    assert message.startswith("zone 'porch': point 2: ")
    assert "zone 'porch'" in zone_error("not a list")
    assert "point 3" in zone_error([[0.1, 0.1], [0.9, 0.1], [0.5]])


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "needs a name"),
        ("   ", "needs a name"),
        ("x" * 65, "at most 64 characters"),
        ("porch!", "only letters, digits"),
        ("a\tb", "only letters, digits"),
        ("a/b", "only letters, digits"),
    ],
)
def test_bad_zone_names_are_refused(name: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Zone(name=name, polygon=SQUARE)


def test_unicode_zone_names_are_accepted() -> None:
    assert Zone(name="Entrée Nord 2", polygon=SQUARE).name == "Entrée Nord 2"
    assert Zone(name="x" * 64, polygon=SQUARE)


@pytest.mark.parametrize("color", ["red", "#fff", "#12345g", "ff8800", "#ff88001"])
def test_bad_colors_are_refused(color: str) -> None:
    with pytest.raises(ValidationError, match="#ff8800"):
        Zone(name="porch", polygon=SQUARE, color=color)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        Zone.model_validate({"name": "porch", "polygon": SQUARE, "colour": "#ffffff"})


def test_privacy_mask_with_and_without_name() -> None:
    assert PrivacyMask(polygon=U_SHAPE).name is None
    assert PrivacyMask(name="Neighbour window", polygon=SQUARE).name == "Neighbour window"
    with pytest.raises(ValidationError) as caught:
        PrivacyMask.model_validate({"polygon": [(0.1, 0.1), (0.9, 0.9), (0.9, 0.1), (0.1, 0.9)]})
    assert caught.value.errors()[0]["msg"] == "privacy mask: the outline crosses itself"
    with pytest.raises(ValidationError) as caught:
        PrivacyMask.model_validate({"name": "tree", "polygon": [(0.1, 0.1), (0.2, 0.2)]})
    assert str(caught.value.errors()[0]["msg"]).startswith("privacy mask 'tree': ")


def test_zone_names_must_be_unique_ignoring_case() -> None:
    porch = Zone(name="Porch", polygon=SQUARE)
    validate_zone_names_unique([porch, Zone(name="Drive", polygon=SQUARE)])
    with pytest.raises(ValueError, match="two zones are named 'PORCH'"):
        validate_zone_names_unique([porch, Zone(name="PORCH", polygon=L_SHAPE)])
    zones = TypeAdapter(Zones)
    with pytest.raises(ValidationError, match="names must differ"):
        zones.validate_python([porch.model_dump(), {"name": "porch", "polygon": SQUARE}])


def test_polygon_area() -> None:
    assert polygon_area(SQUARE) == pytest.approx(0.64)
    assert polygon_area(list(reversed(SQUARE))) == pytest.approx(0.64)
    assert polygon_area(L_SHAPE) == pytest.approx(0.64 - 0.16)
    assert polygon_area([(0, 0), (1, 0), (0, 1)]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((0.2, 0.2), True),
        ((0.3, 0.8), True),
        ((0.8, 0.3), True),
        ((0.7, 0.7), False),  # in the notch
        ((0.95, 0.5), False),
        ((0.05, 0.05), False),
        ((0.5, 0.5), True),  # the reflex vertex
        ((0.1, 0.1), True),  # a vertex
        ((0.5, 0.1), True),  # on the bottom edge
        ((0.7, 0.5), True),  # on the notch's edge
        ((0.5, 0.7), True),  # on the notch's other edge
        ((0.9, 0.3), True),  # on the right edge
        ((0.9, 0.7), False),  # in line with the right edge, beyond it
        ((0.1 - 1e-6, 0.5), False),
    ],
)
def test_point_in_l_shape(point: Point, inside: bool) -> None:
    assert point_in_polygon(point, L_SHAPE) is inside


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((0.3, 0.3), True),
        ((0.7, 0.3), True),
        ((0.5, 0.3), False),  # in the slot
        ((0.5, 0.8), True),  # above the slot
        ((0.5, 0.7), True),  # on the slot's end
        ((0.4, 0.4), True),  # on the slot's side
        ((0.5, 0.1), False),  # in line with the bottom edges, in the slot's mouth
        ((0.5, 0.95), False),
    ],
)
def test_point_in_u_shape(point: Point, inside: bool) -> None:
    assert point_in_polygon(point, U_SHAPE) is inside


def test_point_on_a_diagonal_edge_counts_as_inside() -> None:
    triangle: list[Point] = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]
    for step in range(11):
        x = step / 10
        assert point_in_polygon((x, 1 - x), triangle)
    assert not point_in_polygon((0.5 + 1e-6, 0.5 + 1e-6), triangle)


@st.composite
def convex_polygons(draw: st.DrawFn) -> list[Point]:
    """Random convex polygons: points on a circle inside the frame, at increasing angles."""
    count = draw(st.integers(min_value=3, max_value=40))
    cx = draw(st.floats(0.3, 0.7))
    cy = draw(st.floats(0.3, 0.7))
    radius = draw(st.floats(0.01, 0.29))
    gaps = draw(st.lists(st.floats(0.2, 1.0), min_size=count, max_size=count))
    scale = 2 * math.pi / sum(gaps)
    angles = [sum(gaps[:index]) * scale for index in range(count)]
    return [(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles]


@given(convex_polygons())
def test_random_convex_polygons_are_accepted(polygon: list[Point]) -> None:
    assert polygon_problem(polygon) is None
    assert Zone(name="z", polygon=polygon).polygon == polygon
    xs, ys = zip(*polygon, strict=True)
    centroid = (sum(xs) / len(xs), sum(ys) / len(ys))
    assert point_in_polygon(centroid, polygon)
    assert not point_in_polygon((0.0, 0.0), polygon)
    for vertex in polygon:
        assert point_in_polygon(vertex, polygon)


@given(
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=3, max_size=12, unique=True),
    st.tuples(st.floats(0, 1), st.floats(0, 1)),
)
def test_point_in_polygon_agrees_with_shapely(polygon: list[Point], point: Point) -> None:
    if polygon_problem(polygon) is not None:
        return
    shape = ShapelyPolygon(polygon)
    if shape.exterior.distance(ShapelyPoint(point)) < 1e-6:
        return  # on or near the outline: tolerance decides, checked separately
    assert point_in_polygon(point, polygon) is shape.contains(ShapelyPoint(point))
