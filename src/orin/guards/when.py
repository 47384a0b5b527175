"""Reading *when* a guard is armed: clock times, days, night and day, business hours.

Open-ended clock phrases get a documented end (see ``docs/guards.md``):

* "after X" lasts until 06:00 when X is from 18:00 to 05:59, else until midnight;
* "before X" starts at 18:00 for midnight, at 00:00 when X is at or before noon, else at 06:00.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import time

from orin.guards.rule import ALL_DAYS, Schedule, TimeWindow
from orin.guards.scan import Scan

__all__ = [
    "DAY_PARTS",
    "TIME",
    "WhenResult",
    "describe_days",
    "describe_schedule",
    "parse_time",
    "read_schedule",
]

#: One clock time: "22:00", "10pm", "10:30 p.m.", "noon", "midnight".
TIME = (
    r"(?:\d{1,2}(?:[:.]\d{2})?\s*(?:a\.?m\.?|p\.?m\.?)(?![a-z])"
    r"|\d{1,2}[:h]\d{2}(?!\d)|noon|midday|midnight)"
)
_T = f"({TIME})"
_TO = r"\s*(?:and|to|until|till|through|thru|-)\s*"

WEEKDAYS = (0, 1, 2, 3, 4)
WEEKEND = (5, 6)
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SHORT = {
    "mon": 0,
    "tue": 1,
    "tues": 1,
    "wed": 2,
    "weds": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}
_DAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
_DAY_OR_SHORT = rf"(?:{_DAY}|{'|'.join(sorted(_SHORT, key=len, reverse=True))})"
_ON = r"(?:(?:on|every|each|during|over|at|for)\s+)?(?:the\s+)?"

#: Named parts of the day and their windows.
DAY_PARTS: dict[str, tuple[time, time]] = {
    "morning": (time(6), time(12)),
    "afternoon": (time(12), time(18)),
    "evening": (time(18), time(22)),
}
BUSINESS_HOURS = (time(9), time(17))

_HOURS_NOUN = r"(?:business|working|office|opening|work|shop|store)\s+hours"


def _compile(source: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w'])(?:{source})(?![\w'])")


_ALWAYS = _compile(
    r"(?:24\s*/\s*7|24\s+hours(?:\s+a\s+day)?|all\s+the\s+time|at\s+all\s+times|at\s+any\s+time"
    r"|any\s*time|(?:a)?round\s+the\s+clock|always|day\s+(?:and|or|&)\s+night"
    r"|night\s+(?:and|or|&)\s+day|(?:all|the\s+whole)\s+day(?:\s+long)?|whole\s+day)"
)
_OUTSIDE_HOURS = _compile(
    rf"(?:(?:outside(?:\s+of)?|after|out\s+of)\s+(?:the\s+)?{_HOURS_NOUN}|out\s+of\s+hours"
    r"|after\s+hours|when\s+(?:the\s+)?(?:shop|office|store|business)\s+is\s+closed)"
)
_BUSINESS = _compile(rf"(?:(?:during|in|within)\s+(?:the\s+)?)?{_HOURS_NOUN}")
_AFTER_BEFORE = _compile(
    rf"(?:after|from|past)\s+{_T}\s*,?\s*(?:and|but)?\s*(?:before|until|till|up\s+to)\s+{_T}"
)
_RANGE = _compile(rf"(?:(?:between|from)\s+)?{_T}{_TO}{_T}")
_AFTER = _compile(rf"(?:after|past|from|later\s+than|starting(?:\s+at|\s+from)?|since)\s+{_T}")
_BEFORE = _compile(rf"(?:before|until|till|up\s+to|earlier\s+than)\s+{_T}")
_AMBIGUOUS = _compile(
    r"(?:between|from)\s+(\d{1,2})\s*(?:and|to|until|till|-)\s*(\d{1,2})"
    r"(?![\d:.])(?!\s*(?:[ap]\.?m|o'clock))"
)
_PART = _compile(
    r"(?:(?:in|during|every|each|this|early|late)\s+(?:the\s+)?)?(morning|afternoon|evening)s?"
)
_NIGHT = _compile(
    r"(?:late\s+)?(?:(?:at|during|in|every|each|by|through|throughout|all|over)\s+(?:the\s+)?)?"
    r"(?:night\s*-?\s*time|nights?|nightly)"
    r"|overnight|after\s+dark|when\s+(?:it\s+is|it's|its)\s+dark|in\s+the\s+dark|tonight"
    r"|after\s+sunset|(?:between|from)\s+sunset\s+(?:and|to|until|till)\s+sunrise"
    r"|(?:from\s+)?dusk\s+(?:to|till|until)\s+dawn"
)
_DAYTIME = _compile(
    r"(?:(?:during|in|by|through|throughout)\s+(?:the\s+)?)?(?:day\s*-?\s*time|daylight)"
    r"(?:\s+hours)?|(?:during|in|by|through|throughout)\s+the\s+day"
    r"|(?:while|when)\s+(?:it\s+is|it's|its)\s+light"
    r"|(?:between|from)\s+sunrise\s+(?:and|to|until|till)\s+sunset"
    r"|(?:from\s+)?dawn\s+(?:to|till|until)\s+dusk"
)
_EXCEPT_DAYS = _compile(
    rf"(?:except(?:\s+for)?|excluding|but\s+not|not|other\s+than|apart\s+from)\s+{_ON}"
    rf"((?:{_DAY}|weekends?|weekdays?)(?:\s*(?:,|and|or|&)\s*(?:on\s+)?(?:{_DAY}|weekends?))*)"
)
_DAY_RANGE = _compile(
    rf"(?:from\s+)?{_ON}({_DAY_OR_SHORT})\s*(?:-|to|through|thru|till|until)\s*({_DAY_OR_SHORT})"
)
_WEEKEND = _compile(rf"{_ON}weekends?")
_WEEKDAYS = _compile(
    rf"{_ON}(?:weekdays?|week\s*days|work\s*days?|working\s+days?|business\s+days?|school\s+days?)"
    r"|during\s+the\s+week"
)
_DAY_NAME = _compile(rf"{_ON}({_DAY})")
_EVERY_DAY = _compile(
    r"every\s*day|each\s+day|daily|all\s+week(?:\s+long)?|(?:seven|7)\s+days\s+a\s+week"
)


_OR = re.compile(r"[\s,]*(?:or|either)[\s,]*")


def parse_time(text: str) -> time:
    """A clock time from a :data:`TIME` match; ``ValueError`` with a message if impossible."""
    compact = re.sub(r"[\s.]", "", text.lower())
    if compact == "midnight":
        return time(0)
    if compact in ("noon", "midday"):
        return time(12)
    if match := re.fullmatch(r"(\d{1,2})(?::?(\d{2}))?([ap])m", compact):
        hour, minute = int(match[1]), int(match[2] or 0)
        if not 1 <= hour <= 12 or minute > 59:
            raise ValueError(f"'{text}' is not a valid time of day")
        hour = hour % 12 + (12 if match[3] == "p" else 0)
        return time(hour, minute)
    match = re.fullmatch(r"(\d{1,2})[:h]?(\d{2})", compact)
    if match is None:
        raise ValueError(f"'{text}' is not a valid time of day")
    hour, minute = int(match[1]), int(match[2])
    if hour == 24 and minute == 0:
        return time(0)
    if hour > 23 or minute > 59:
        raise ValueError(f"'{text}' is not a valid time of day")
    return time(hour, minute)


def _after_end(start: time) -> time:
    return time(6) if start >= time(18) or start < time(6) else time(0)


def _before_start(end: time) -> time:
    if end == time(0):
        return time(18)
    return time(0) if end <= time(12) else time(6)


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


def describe_days(days: tuple[int, ...] | list[int] | None) -> str:
    """Words for a set of days: "every day", "on weekdays", "on Saturday and Sunday"."""
    chosen = tuple(sorted(set(days))) if days else ALL_DAYS
    if chosen == ALL_DAYS:
        return "every day"
    if chosen == WEEKDAYS:
        return "on weekdays"
    if chosen == WEEKEND:
        return "on weekends"
    names = [_DAY_NAMES[day].capitalize() for day in chosen]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"on {listed}"


def _describe_window(window: TimeWindow) -> str:
    if window.start == window.end == time(0):
        return f"all day {describe_days(window.days)}"
    return f"between {_hhmm(window.start)} and {_hhmm(window.end)} {describe_days(window.days)}"


def describe_schedule(schedule: Schedule) -> str:
    """A short sentence for a schedule, as shown next to understood phrases."""
    match schedule.kind:
        case "always":
            return "at any time"
        case "night":
            return f"at night (sunset to sunrise) {describe_days(schedule.days)}"
        case "day":
            return f"during the day (sunrise to sunset) {describe_days(schedule.days)}"
        case _:
            return "; ".join(_describe_window(window) for window in schedule.windows)


@dataclass
class _Window:
    start: time
    end: time
    days: tuple[int, ...] | None = None  # None: the days named elsewhere, else every day
    implied: bool = False  # dropped when days are named (the weekends of "outside hours")


@dataclass
class WhenResult:
    """What the schedule phrases of an instruction said."""

    schedule: Schedule = field(default_factory=Schedule)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    role: str
    days: tuple[int, ...]
    windows: tuple[_Window, ...]


@dataclass
class _Reading:
    windows: list[_Window] = field(default_factory=list)
    days: set[int] = field(default_factory=set)
    excluded: set[int] = field(default_factory=set)
    night: bool = False
    day: bool = False
    always: bool = False
    spans: list[_Span] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def _day_words(text: str) -> set[int]:
    days: set[int] = set()
    for word in re.findall(r"[a-z]+", text):
        if word.startswith("weekend"):
            days |= set(WEEKEND)
        elif word.startswith("weekday"):
            days |= set(WEEKDAYS)
        elif word.rstrip("s") in _DAY_NAMES:
            days.add(_DAY_NAMES.index(word.rstrip("s")))
        elif word in _SHORT:
            days.add(_SHORT[word])
    return days


def _day_index(word: str) -> int:
    word = word.rstrip("s") if word.endswith("days") else word
    if word in _DAY_NAMES:
        return _DAY_NAMES.index(word)
    return _SHORT[word]


def _times(scan: Scan, reading: _Reading) -> None:
    for match in scan.finditer(_AMBIGUOUS):
        reading.error = (
            f"'{scan.text_of(match.start(), match.end())}' is ambiguous: "
            "write times as 9pm or 21:00"
        )
        return
    try:
        for match in scan.finditer(_AFTER_BEFORE):
            reading.windows.append(_Window(parse_time(match[1]), parse_time(match[2])))
            _take(scan, reading, match, "window", windows=1)
        for match in scan.finditer(_RANGE):
            reading.windows.append(_Window(parse_time(match[1]), parse_time(match[2])))
            _take(scan, reading, match, "window", windows=1)
        for match in scan.finditer(_AFTER):
            start = parse_time(match[1])
            reading.windows.append(_Window(start, _after_end(start)))
            _take(scan, reading, match, "window", windows=1)
        for match in scan.finditer(_BEFORE):
            end = parse_time(match[1])
            reading.windows.append(_Window(_before_start(end), end))
            _take(scan, reading, match, "window", windows=1)
    except ValueError as error:
        reading.error = str(error)


def _take(
    scan: Scan,
    reading: _Reading,
    match: re.Match[str],
    role: str,
    days: set[int] | None = None,
    windows: int = 0,
) -> None:
    """Consume ``match``; ``windows``: how many windows it added (the last ones)."""
    scan.consume(match.start(), match.end())
    added = tuple(reading.windows[len(reading.windows) - windows :]) if windows else ()
    reading.spans.append(_Span(match.start(), match.end(), role, tuple(sorted(days or ())), added))


def _periods(scan: Scan, reading: _Reading) -> None:
    for match in scan.finditer(_ALWAYS):
        reading.always = True
        _take(scan, reading, match, "always")
    for match in scan.finditer(_OUTSIDE_HOURS):
        reading.windows.append(_Window(BUSINESS_HOURS[1], BUSINESS_HOURS[0], WEEKDAYS))
        reading.windows.append(_Window(time(0), time(0), WEEKEND, implied=True))
        _take(scan, reading, match, "window", windows=2)
    for match in scan.finditer(_BUSINESS):
        reading.windows.append(_Window(*BUSINESS_HOURS, WEEKDAYS))
        _take(scan, reading, match, "window", windows=1)
    for match in scan.finditer(_PART):
        reading.windows.append(_Window(*DAY_PARTS[match[1]]))
        _take(scan, reading, match, "window", windows=1)
    for match in scan.finditer(_NIGHT):
        if "tonight" in match[0]:
            reading.warnings.append("guards repeat: 'tonight' is read as every night")
        reading.night = True
        _take(scan, reading, match, "night")
    for match in scan.finditer(_DAYTIME):
        reading.day = True
        _take(scan, reading, match, "day")


def _days(scan: Scan, reading: _Reading) -> None:
    for match in scan.finditer(_EXCEPT_DAYS):
        excluded = _day_words(match[1])
        reading.excluded |= excluded
        _take(scan, reading, match, "except", excluded)
    for match in scan.finditer(_DAY_RANGE):
        first, last = _day_index(match[1]), _day_index(match[2])
        span = {(first + step) % 7 for step in range((last - first) % 7 + 1)}
        reading.days |= span
        _take(scan, reading, match, "days", span)
    for pattern, chosen in ((_WEEKEND, WEEKEND), (_WEEKDAYS, WEEKDAYS)):
        for match in scan.finditer(pattern):
            reading.days |= set(chosen)
            _take(scan, reading, match, "days", set(chosen))
    for match in scan.finditer(_DAY_NAME):
        day = _day_index(match[1])
        reading.days.add(day)
        _take(scan, reading, match, "days", {day})
    for match in scan.finditer(_EVERY_DAY):
        _take(scan, reading, match, "every day")


def _build(reading: _Reading) -> Schedule:
    named = reading.days or set(ALL_DAYS)
    days = sorted(named - reading.excluded)
    if not days:
        raise ValueError("no day is left in the schedule once the excluded days are removed")
    restricted = len(days) < len(ALL_DAYS)
    if reading.windows:
        windows = [
            resolved
            for window in reading.windows
            if (resolved := _resolve(window, reading, days)) is not None
        ]
        if not windows:
            raise ValueError("no day is left in the schedule once the excluded days are removed")
        return Schedule(kind="windows", windows=_unique(windows))
    if reading.night != reading.day:
        return Schedule(kind="night" if reading.night else "day", days=days if restricted else [])
    if restricted:
        return Schedule(kind="windows", windows=[TimeWindow(days=days, start=time(0), end=time(0))])
    return Schedule()


def _resolve(window: _Window, reading: _Reading, days: list[int]) -> TimeWindow | None:
    """The window as stored: its own days unless days were named, less the excluded ones."""
    if window.implied and reading.days:
        return None
    own = window.days if window.days is not None and not reading.days else None
    window_days = sorted(set(own) - reading.excluded) if own is not None else days
    if not window_days:
        return None
    return TimeWindow(days=window_days, start=window.start, end=window.end)


def _unique(windows: list[TimeWindow]) -> list[TimeWindow]:
    seen: list[TimeWindow] = []
    for window in windows:
        if window not in seen:
            seen.append(window)
    return seen


def _meaning(span: _Span, reading: _Reading, schedule: Schedule) -> str:
    role = span.role
    if role == "except":
        return f"not {describe_days(span.days)}"
    if role == "days":
        return describe_days(span.days)
    if role == "window":
        days = sorted((reading.days or set(ALL_DAYS)) - reading.excluded)
        resolved = [_resolve(window, reading, days) for window in span.windows]
        return "; ".join(_describe_window(w) for w in resolved if w is not None) or "never"
    if role == "every day":
        return "every day"
    if role in ("night", "day") and schedule.kind == "windows":
        return f"{role} (the clock times given are used)"
    if role == "always" and schedule.kind != "always":
        return "all day"
    return describe_schedule(schedule)


def read_schedule(scan: Scan) -> WhenResult:
    """Consume the schedule phrases of ``scan`` and build the schedule they describe."""
    reading = _Reading()
    _times(scan, reading)
    if reading.error is None:
        _periods(scan, reading)
        _days(scan, reading)
    if reading.error is not None:
        return WhenResult(error=reading.error)
    try:
        schedule = _build(reading)
    except ValueError as error:
        return WhenResult(error=str(error))
    for span in reading.spans:
        scan.record(span.start, span.end, _meaning(span, reading, schedule))
    return WhenResult(schedule=schedule, warnings=reading.warnings + _or_warnings(scan, reading))


def _or_warnings(scan: Scan, reading: _Reading) -> list[str]:
    """A guard has one schedule: "at night or on weekends" can only mean both at once."""
    spans = sorted(reading.spans, key=lambda span: span.start)
    warnings = []
    for first, second in itertools.pairwise(spans):
        kinds = {first.role == "days", second.role == "days"}
        if kinds == {True, False} and _OR.fullmatch(scan.norm[first.end : second.start]):
            both = scan.text_of(first.start, second.end)
            warnings.append(
                f"'{both}' is read as both at once (the times on those days only): "
                "make a second guard for the other"
            )
    return warnings
