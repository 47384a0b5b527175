"""Zones and privacy masks: polygons over a camera's frame, in normalised coordinates.

A point is ``(x, y)`` with both coordinates from 0 to 1 (0, 0 is the frame's top-left corner),
so outlines survive a change of stream resolution. An outline is open: its last point joins its
first by itself. Error messages say in plain words what is wrong, numbering points from 1 as
people count them.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_core import PydanticCustomError
from shapely.geometry import LinearRing, MultiPoint  # type: ignore[import-untyped]

Point = tuple[float, float]
"""``(x, y)`` in frame coordinates from 0 to 1."""

MIN_POINTS: Final = 3
MAX_POINTS: Final = 100
MAX_NAME_LENGTH: Final = 64
EDGE_TOLERANCE: Final = 1e-9
"""Points this close to an outline (in frame units) count as on it, so inside."""

_ZONE_NAME = re.compile(r"[\w \-]+")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def polygon_area(polygon: Sequence[Point]) -> float:
    """The area an outline encloses, as a fraction of the frame (shoelace formula)."""
    twice = 0.0
    x1, y1 = polygon[-1]
    for x2, y2 in polygon:
        twice += x1 * y2 - x2 * y1
        x1, y1 = x2, y2
    return abs(twice) / 2


def point_in_polygon(point: Point, polygon: Sequence[Point]) -> bool:
    """Whether ``point`` lies inside the outline; points on the outline count as inside.

    Even-odd ray casting, so concave outlines work; pure Python, O(number of points).
    """
    x, y = point
    inside = False
    x1, y1 = polygon[-1]
    for x2, y2 in polygon:
        dx, dy = x2 - x1, y2 - y1
        # On this edge: (nearly) collinear with it and within its bounding box.
        if (
            abs((x - x1) * dy - (y - y1) * dx) <= EDGE_TOLERANCE * (abs(dx) + abs(dy))
            and min(x1, x2) - EDGE_TOLERANCE <= x <= max(x1, x2) + EDGE_TOLERANCE
            and min(y1, y2) - EDGE_TOLERANCE <= y <= max(y1, y2) + EDGE_TOLERANCE
        ):
            return True
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * dx / dy:
            inside = not inside
        x1, y1 = x2, y2
    return inside


def polygon_problem(polygon: Sequence[Point]) -> str | None:
    """What is wrong with an outline, in plain words, or ``None`` when it is valid.

    Valid: 3 to 100 points, each inside the frame, no point repeating the one before it (nor the
    last repeating the first), not all on one line, edges that never cross or touch.
    """
    count = len(polygon)
    if count < MIN_POINTS:
        return f"an outline needs at least {MIN_POINTS} points, this one has {count}"
    if count > MAX_POINTS:
        return f"an outline may have at most {MAX_POINTS} points, this one has {count}"
    for number, (x, y) in enumerate(polygon, start=1):
        if not (math.isfinite(x) and math.isfinite(y)):
            return f"point {number} is not a finite number"
        if not (0 <= x <= 1 and 0 <= y <= 1):
            return f"point {number} is outside the frame: coordinates go from 0 to 1"
    for number in range(2, count + 1):
        if polygon[number - 1] == polygon[number - 2]:
            return f"point {number} repeats the point before it"
    if polygon[-1] == polygon[0]:
        return "the last point repeats the first: the outline closes by itself"
    if MultiPoint(list(polygon)).convex_hull.area == 0:
        return "all the points lie on one line, so the outline encloses no area"
    if not LinearRing(list(polygon)).is_simple:
        return "the outline crosses itself"
    if polygon_area(polygon) == 0:
        return "the outline encloses no area"
    return None


def _check_polygon(polygon: list[Point]) -> list[Point]:
    problem = polygon_problem(polygon)
    if problem is not None:
        raise PydanticCustomError("invalid_polygon", "{problem}", {"problem": problem})
    return polygon


Polygon = Annotated[
    list[Point],
    AfterValidator(_check_polygon),
    Field(description="Outline as [x, y] points from 0 to 1; 3 to 100 points, not crossing."),
]
"""A valid outline (see :func:`polygon_problem`); the last point joins the first."""


def _first_problem(error: ValidationError) -> str:
    """One plain sentence for the first error a polygon's validation raised."""
    details = error.errors()[0]
    message = str(details["msg"])
    location = details["loc"]
    if location and isinstance(location[0], int):
        return f"point {location[0] + 1}: {message[:1].lower()}{message[1:]}"
    return message


def _polygon_of(
    what: str, value: Any, handler: ValidatorFunctionWrapHandler, name: str | None
) -> list[Point]:
    try:
        polygon: list[Point] = handler(value)
    except ValidationError as error:
        label = f"{what} {name!r}" if name else what
        raise PydanticCustomError(
            "invalid_polygon", "{message}", {"message": f"{label}: {_first_problem(error)}"}
        ) from None
    return polygon


def _clean_name(value: str, what: str) -> str:
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise PydanticCustomError("invalid_name", f"a {what} needs a name")
    if len(name) > MAX_NAME_LENGTH:
        raise PydanticCustomError(
            "invalid_name", f"a {what} name may have at most {MAX_NAME_LENGTH} characters"
        )
    if not _ZONE_NAME.fullmatch(name):
        raise PydanticCustomError(
            "invalid_name",
            f"a {what} name may use only letters, digits, spaces, '-' and '_'",
        )
    return name


class Zone(BaseModel):
    """A named area of a camera's frame that guards can watch."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description="1 to 64 letters, digits, spaces, '-' or '_'; unique in the camera, "
        "ignoring case.",
        examples=["Porch"],
    )
    polygon: Polygon
    color: str | None = Field(None, description="Display colour as #rrggbb.", examples=["#ff8800"])

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _clean_name(value, "zone")

    @field_validator("polygon", mode="wrap")
    @classmethod
    def _named_polygon_errors(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> list[Point]:
        return _polygon_of("zone", value, handler, info.data.get("name"))

    @field_validator("color")
    @classmethod
    def _valid_color(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _COLOR.fullmatch(value):
            raise PydanticCustomError("invalid_color", "a colour looks like #ff8800")
        return value.lower()

    def contains(self, point: Point) -> bool:
        """Whether ``point`` is inside the zone (on its outline counts as inside)."""
        return point_in_polygon(point, self.polygon)


class PrivacyMask(BaseModel):
    """An area of a camera's frame blacked out before recording, live view and detection."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None, description="Optional label: 1 to 64 letters, digits, spaces, '-' or '_'."
    )
    polygon: Polygon

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        return None if value is None else _clean_name(value, "privacy mask")

    @field_validator("polygon", mode="wrap")
    @classmethod
    def _named_polygon_errors(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> list[Point]:
        return _polygon_of("privacy mask", value, handler, info.data.get("name"))


def validate_zone_names_unique(zones: Iterable[Zone]) -> None:
    """Raise ``ValueError`` when two zones share a name, ignoring case."""
    seen: set[str] = set()
    for zone in zones:
        key = zone.name.casefold()
        if key in seen:
            raise ValueError(
                f"two zones are named {zone.name!r}: zone names must differ, ignoring case"
            )
        seen.add(key)


def _check_zones(zones: list[Zone]) -> list[Zone]:
    try:
        validate_zone_names_unique(zones)
    except ValueError as error:
        raise PydanticCustomError(
            "duplicate_zone_name", "{problem}", {"problem": str(error)}
        ) from None
    return zones


Zones = Annotated[list[Zone], AfterValidator(_check_zones)]
"""A camera's zones: each valid, names unique ignoring case."""
