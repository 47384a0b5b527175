"""Reading numbers in instructions: cooldowns, dwell times, counts, confidence and size.

Defaults the words imply (documented in ``docs/guards.md``):

* "loitering", "lingering", "hanging around" … → :data:`LOITER_DWELL_S` of dwell;
* "a crowd" → at least :data:`CROWD_SIZE` people; "several" → at least 3, "many" → at least 5;
* "only if you are sure" → :data:`HIGH_CONFIDENCE`; "even if unsure" → :data:`LOW_CONFIDENCE`;
* "close to the camera" → boxes of at least :data:`CLOSE_MIN_SIZE` of the frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from orin.guards.lexicon import NUMBER_WORDS
from orin.guards.scan import Scan

__all__ = [
    "CLOSE_MIN_SIZE",
    "CROWD_SIZE",
    "HIGH_CONFIDENCE",
    "LOITER_DWELL_S",
    "LOW_CONFIDENCE",
    "Amounts",
    "CountLimit",
    "format_seconds",
    "read_amounts",
]

LOITER_DWELL_S = 30.0
CROWD_SIZE = 5
HIGH_CONFIDENCE = 0.75
LOW_CONFIDENCE = 0.3
CLOSE_MIN_SIZE = 0.1

Op = Literal["gt", "gte", "lt", "lte", "eq"]
_OP_WORDS: dict[Op, str] = {
    "gt": "more than",
    "gte": "at least",
    "lt": "fewer than",
    "lte": "at most",
    "eq": "exactly",
}

_UNIT_SECONDS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}
_UNIT = "(?:" + "|".join(sorted(_UNIT_SECONDS, key=len, reverse=True)) + ")"
_WORD_NUMBERS = sorted((w for w in NUMBER_WORDS if w not in ("a", "an")), key=len, reverse=True)
_NUMBER_WORDS_RE = "|".join(w.replace(" ", r"\s+") for w in _WORD_NUMBERS)
_AMOUNT = rf"(?:\d+(?:[.,]\d+)?|half\s+an?|{_NUMBER_WORDS_RE}|an?)"
#: A duration: amount and unit, e.g. "30 seconds", "2 min", "half an hour", "a minute".
DURATION = rf"({_AMOUNT})\s*-?\s*({_UNIT})(?![a-z])"
#: A count: digits or number words (not "a"), not followed by a unit or a clock suffix.
_NOT_A_COUNT = rf"(?!\s*(?:[:.,]\d|[ap]\.?m\b|%|o'clock|{_UNIT}\b|times?\b))"
_NUM = rf"(?<![\d:.,])(\d+|{_NUMBER_WORDS_RE}){_NOT_A_COUNT}"

_GROUP_WORDS: dict[str, int] = {
    "several": 3,
    "multiple": 2,
    "many": 5,
    "a group of": 3,
    "groups of": 3,
    "a bunch of": 3,
    "a number of": 3,
    "lots of": 5,
    "a lot of": 5,
    "a gang of": 3,
    "a pack of": 3,
    "a herd of": 3,
    "a flock of": 3,
}


def _compile(source: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w'])(?:{source})(?![\w'])")


_COOLDOWN_ONCE = _compile(
    r"(?:(?:at\s+most|no\s+more\s+than|not\s+more\s+than|max(?:imum)?|only|just)\s+)?"
    rf"once\s+(?:every|per|a|an|each|in)\s+(?:({_AMOUNT})\s*)?({_UNIT})"
)
_COOLDOWN_EXPLICIT = _compile(
    rf"(?:cool\s*-?\s*down|snooze|quiet\s+period)\s*(?:of|:|for|=)?\s*{DURATION}"
    r"|(?:don't|do\s+not|never)\s+(?:repeat|re-?alert|re-?notify|alert(?:\s+me)?\s+again"
    rf"|notify(?:\s+me)?\s+again|tell\s+me\s+again)\s+(?:for|within|in)\s+(?:the\s+next\s+)?"
    rf"{DURATION}"
    rf"|(?:wait|at\s+least)\s+{DURATION}\s+between\s+(?:alerts|notifications|catches|messages)"
)
_EVERY_TIME = _compile(r"(?:every|each)\s+(?:single\s+)?(?:time|occurrence)")

_DWELL_VERB = (
    r"(?:for|stays?|staying|stayed|remains?|remaining|lingers?|lingering|waits?|waiting"
    r"|loiters?|loitering|is\s+there|are\s+there|hangs?\s+around|hanging\s+around)"
)
_DWELL_COMPARE = _compile(
    rf"(?:{_DWELL_VERB}\s+)?(?:for\s+)?(?:(?:more|longer)\s+than|over|at\s+least|upwards\s+of"
    rf"|in\s+excess\s+of|>=?)\s*{DURATION}"
)
_DWELL_FOR = _compile(
    rf"{_DWELL_VERB}\s+(?:(?:a\s+(?:full|whole)|the\s+whole)\s+)?{DURATION}"
    r"(?:\s+or\s+(?:more|longer))?(?:\s+(?:long|straight|or\s+so))?"
)
_DWELL_OR_MORE = _compile(rf"{DURATION}\s+or\s+(?:more|longer)")
_LOITER = _compile(
    r"loiter(?:s|ing|ed|ers?)?|linger(?:s|ing|ed)?|lurk(?:s|ing|ed|ers?)?|prowling"
    r"|hang(?:s|ing)?\s+(?:around|about|out)|hanging|hung\s+around|stick(?:s|ing)?\s+around"
    r"|wait(?:s|ing)?\s+around|casing\s+the"
)

_COUNT_PATTERNS: tuple[tuple[Op, re.Pattern[str]], ...] = (
    # Longer phrases first: "no more than 3" must not be read as "more than 3".
    (
        "lte",
        _compile(
            r"(?:at\s+most|no\s+more\s+than|not\s+more\s+than|a\s+maximum\s+of|maximum\s+of"
            rf"|max\.?|up\s+to|<=)\s*{_NUM}"
        ),
    ),
    (
        "gte",
        _compile(
            r"(?:at\s+least|a\s+minimum\s+of|minimum\s+of|min\.?|no\s+(?:fewer|less)\s+than"
            rf"|not\s+(?:fewer|less)\s+than|>=)\s*{_NUM}"
        ),
    ),
    ("gt", _compile(rf"(?:more\s+than|over|greater\s+than|above|>)\s*{_NUM}")),
    ("lt", _compile(rf"(?:fewer\s+than|less\s+than|under|below|<)\s*{_NUM}")),
    ("gte", _compile(rf"{_NUM}\s*(?:or\s+more|\+|and\s+(?:more|up|above|over)|or\s+above)")),
    ("lte", _compile(rf"{_NUM}\s*or\s+(?:fewer|less)")),
    ("eq", _compile(rf"exactly\s+{_NUM}")),
)
_GROUP = _compile("|".join(w.replace(" ", r"\s+") for w in _GROUP_WORDS))
_CROWD = _compile(r"(?:a\s+)?(?:crowds?|gathering|mob)(?:\s+of)?|(?:people\s+)?gather(?:s|ing|ed)?")

_CONFIDENCE_EXPLICIT = _compile(
    r"(\d{1,3}(?:\.\d+)?)\s*%\s*(?:sure|confident|confidence|certain|certainty)"
    r"|(?:confidence|certainty)\s*(?:of|above|over|at\s+least|>=?|:|=)?\s*"
    r"(\d{1,3}(?:\.\d+)?\s*%|0?\.\d+|1(?:\.0+)?)"
)
_SURE = (
    r"(?:really\s+|very\s+|absolutely\s+|completely\s+|quite\s+|100%\s+)?(?:sure|certain|confident)"
)
_HIGH_CONFIDENCE = _compile(
    rf"(?:only\s+)?(?:if|when)\s+(?:you(?:'re|\s+are)|it(?:'s|\s+is)|you\s+really\s+are)\s+{_SURE}"
    r"|high\s+confidence|(?:no|avoid|fewer|minimi[sz]e|without|reduce)\s+false\s+"
    r"(?:alarms?|positives?|alerts?)|definitely|for\s+sure"
)
_LOW_CONFIDENCE = _compile(
    r"even\s+if\s+(?:you(?:'re|\s+are)\s+|it(?:'s|\s+is)\s+)?(?:not\s+sure|unsure|uncertain"
    r"|in\s+doubt|not\s+certain)|low\s+confidence|any\s+chance|might\s+be|could\s+be|possibly"
    r"|maybe|(?:don't|do\s+not)\s+miss\s+(?:any(?:thing|one)?|a\s+thing)"
    r"|better\s+safe\s+than\s+sorry"
)
_SIZE_EXPLICIT = _compile(
    r"(?:bigger|larger|more)\s+than\s+(\d{1,3}(?:\.\d+)?)\s*%\s+of\s+the\s+"
    r"(?:frame|image|picture|view|screen)"
    r"|(?:at\s+least|over)\s+(\d{1,3}(?:\.\d+)?)\s*%\s+of\s+the\s+(?:frame|image|picture|view|screen)"
)
_CLOSE = _compile(r"(?:close\s+to|near|right\s+(?:in\s+front\s+of|at))\s+the\s+camera|up\s+close")


@dataclass(frozen=True)
class CountLimit:
    """One count constraint as written, e.g. ("gt", 3, "more than 3")."""

    op: Op
    value: int
    text: str


@dataclass
class Amounts:
    """What the numeric phrases of an instruction said."""

    cooldown_s: int | None = None
    dwell_s: float | None = None
    loitering: bool = False
    counts: list[CountLimit] = field(default_factory=list)
    crowd: bool = False
    min_confidence: float | None = None
    min_size: float | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def _amount(text: str) -> float:
    words = " ".join(text.split())
    if words.startswith("half"):
        return 0.5
    if words in NUMBER_WORDS:
        return float(NUMBER_WORDS[words])
    return float(words.replace(",", "."))


def _seconds(amount: str | None, unit: str) -> float:
    return (_amount(amount) if amount else 1.0) * _UNIT_SECONDS[unit]


def format_seconds(seconds: float) -> str:
    """ "45 s", "2 min", "1 h 30 min" for a number of seconds."""
    whole = round(seconds)
    if whole < 60 or whole % 60:
        return f"{seconds:g} s"
    hours, minutes = divmod(whole // 60, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def _number(text: str) -> int:
    return int(_amount(text))


def _cooldown(scan: Scan, found: Amounts) -> None:
    for match in scan.finditer(_COOLDOWN_ONCE):
        found.cooldown_s = round(_seconds(match[1], match[2]))
        scan.consume(
            match.start(),
            match.end(),
            f"at most one alert every {format_seconds(found.cooldown_s)}",
        )
    for match in scan.finditer(_COOLDOWN_EXPLICIT):
        groups = [g for g in match.groups() if g is not None]
        found.cooldown_s = round(_seconds(groups[0], groups[1]))
        scan.consume(
            match.start(),
            match.end(),
            f"no new alert for {format_seconds(found.cooldown_s)} after one",
        )
    for match in scan.finditer(_EVERY_TIME):
        found.cooldown_s = 0
        scan.consume(match.start(), match.end(), "alert every time (no cooldown)")


def _dwell(scan: Scan, found: Amounts) -> None:
    dwells: list[float] = []
    for pattern in (_DWELL_COMPARE, _DWELL_FOR, _DWELL_OR_MORE):
        for match in scan.finditer(pattern):
            seconds = _seconds(match[1], match[2])
            dwells.append(seconds)
            scan.consume(match.start(), match.end(), f"stays at least {format_seconds(seconds)}")
    if dwells:
        found.dwell_s = max(dwells)
        if len(set(dwells)) > 1:
            found.warnings.append(
                f"several durations were given: the longest ({format_seconds(max(dwells))}) is used"
            )
    for match in scan.finditer(_LOITER):
        found.loitering = True
        meaning = (
            "stays a while (the duration given is used)"
            if dwells
            else f"stays at least {format_seconds(LOITER_DWELL_S)} (loitering)"
        )
        scan.consume(match.start(), match.end(), meaning)


def _counts(scan: Scan, found: Amounts, object_words: str) -> None:
    before_object = rf"(?=\s+(?:[a-z'-]+\s+)?(?:{object_words})(?![\w']))"
    count_range = _compile(rf"between\s+{_NUM}\s*(?:and|-|to)\s*{_NUM}{before_object}")
    for match in scan.finditer(count_range):
        low, high = _number(match[1]), _number(match[2])
        text = scan.text_of(match.start(), match.end())
        found.counts += [CountLimit("gte", low, text), CountLimit("lte", high, text)]
        scan.consume(match.start(), match.end(), f"between {low} and {high} at once")
    for op, pattern in _COUNT_PATTERNS:
        for match in scan.finditer(pattern):
            value = _number(match[1])
            text = scan.text_of(match.start(), match.end())
            found.counts.append(CountLimit(op, value, text))
            scan.consume(match.start(), match.end(), f"{_OP_WORDS[op]} {value} at once")
    bare = _compile(rf"{_NUM}{before_object}")
    for match in scan.finditer(bare):
        value = _number(match[1])
        if value >= 2:
            text = scan.text_of(match.start(), match.end())
            found.counts.append(CountLimit("gte", value, text))
            scan.consume(match.start(), match.end(), f"at least {value} at once")
        else:
            scan.consume(match.start(), match.end())
    for match in scan.finditer(_GROUP):
        value = _GROUP_WORDS[" ".join(match[0].split())]
        text = scan.text_of(match.start(), match.end())
        found.counts.append(CountLimit("gte", value, text))
        scan.consume(match.start(), match.end(), f"at least {value} at once")
    for match in scan.finditer(_CROWD):
        found.crowd = True
        text = scan.text_of(match.start(), match.end())
        found.counts.append(CountLimit("gte", CROWD_SIZE, text))
        scan.consume(match.start(), match.end(), f"at least {CROWD_SIZE} people at once")


def _confidence(scan: Scan, found: Amounts) -> None:
    for match in scan.finditer(_CONFIDENCE_EXPLICIT):
        raw = (match[1] + "%") if match[1] else match[2]
        value = float(raw.rstrip("% ")) / 100 if raw.endswith("%") else float(raw)
        if not 0 <= value <= 1:
            found.error = f"'{scan.text_of(match.start(), match.end())}' is not a confidence"
            return
        found.min_confidence = value
        scan.consume(match.start(), match.end(), f"minimum confidence {value:.0%}")
    for pattern, value in ((_HIGH_CONFIDENCE, HIGH_CONFIDENCE), (_LOW_CONFIDENCE, LOW_CONFIDENCE)):
        for match in scan.finditer(pattern):
            if found.min_confidence is None:
                found.min_confidence = value
            scan.consume(match.start(), match.end(), f"minimum confidence {value:.0%}")


def _size(scan: Scan, found: Amounts) -> None:
    for match in scan.finditer(_SIZE_EXPLICIT):
        value = float(match[1] or match[2]) / 100
        if value > 1:
            found.error = f"'{scan.text_of(match.start(), match.end())}' is more than the frame"
            return
        found.min_size = value
        scan.consume(match.start(), match.end(), f"at least {value:.0%} of the frame")
    for match in scan.finditer(_CLOSE):
        found.min_size = found.min_size or CLOSE_MIN_SIZE
        scan.consume(
            match.start(), match.end(), f"at least {found.min_size:.0%} of the frame (close)"
        )


def read_amounts(scan: Scan, object_words: str) -> Amounts:
    """Consume cooldown, dwell, count, confidence and size phrases from ``scan``.

    ``object_words`` is a regex alternation of object words: a bare number counts objects
    only when one follows ("2 cars").
    """
    found = Amounts()
    _cooldown(scan, found)
    _dwell(scan, found)
    _confidence(scan, found)
    if found.error is None:
        _size(scan, found)
    if found.error is None:
        _counts(scan, found, object_words)
    return found
