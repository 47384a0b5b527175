"""Reading *where*: the camera's zone names, and place phrases that name no known zone.

Zone names match case-insensitively, with spaces, ``-`` and ``_`` alike. A place phrase with an
article ("in the pool area", "at the door") that is not a zone is resolved by its words: a
unique zone containing them all ("door" → "front door"), the whole view ("in the picture"), a
position relative to an object ("near the car", not supported), or else an unknown zone, which
makes the instruction invalid.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from orin.guards.lexicon import ANYWHERE_NOUNS, FILLER_WORDS, OBJECT_WORDS
from orin.guards.scan import BLANK, Scan

__all__ = ["Places", "read_known_zones", "read_place_phrases"]

_PREP = (
    r"(?:in\s+front\s+of|next\s+to|close\s+to|in|inside|at|on|near|nearby|by|around|outside"
    r"|into|onto|within|across|through|behind|beside|along|towards?|to|from|approaching"
    r"|enters?|entering|crosses|crossing|leaves|leaving)"
)
_ARTICLE = r"(?:the|my|our|this|that|his|her|their)"
_SUFFIX = r"(?:\s+(?:area|zone|region|section))?"
_SUFFIX_WORDS = frozenset({"area", "zone", "region", "section", "spot", "side"})
_NOT_PLACES = frozenset(
    {
        *("left", "right", "same", "time", "moment", "way", "end", "middle", "meantime"),
        *("future", "past", "start", "beginning", "lookout", "open", "daytime", "night"),
        *("morning", "evening", "afternoon"),
    }
)
_EXCLUDING = re.compile(
    r"(?:except(?:\s+for)?|excluding|but\s+not|not|other\s+than|apart\s+from)"
    rf"\s+(?:{_PREP}\s+)?(?:{_ARTICLE}\s+)?$"
)
_PHRASE = re.compile(
    rf"(?<![\w']){_PREP}\s+{_ARTICLE}\s+([a-z][a-z'-]*(?:\s+[a-z][a-z'-]*){{0,3}})"
)
_ANYWHERE = ANYWHERE_NOUNS | {"whole", "entire", "full"}
_BEFORE_CONSUMED = re.compile(rf" *{BLANK}")
_OBJECT_NOUNS = frozenset(word for word in OBJECT_WORDS if " " not in word)


@dataclass
class Places:
    """Zones an instruction names, in order, and warnings about place phrases."""

    zones: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _key(name: str) -> tuple[str, ...]:
    return tuple(re.split(r"[\s_\-]+", name.casefold().strip()))


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def _zone_pattern(name: str) -> re.Pattern[str]:
    words = r"[\s_\-]+".join(re.escape(word) for word in _key(name))
    return re.compile(rf"(?<![\w'])(?:{_PREP}\s+)?(?:{_ARTICLE}\s+)?({words}){_SUFFIX}(?![\w'])")


def _add(places: Places, zone: str) -> None:
    if zone not in places.zones:
        places.zones.append(zone)


def read_known_zones(scan: Scan, zone_names: Sequence[str], places: Places) -> str | None:
    """Consume every mention of a known zone name (longest names first); return an error."""
    for zone in sorted(zone_names, key=lambda name: len(_key(name)), reverse=True):
        if not zone.strip():
            continue
        for match in scan.finditer(_zone_pattern(zone)):
            if _EXCLUDING.search(scan.norm[: match.start()]):
                return (
                    f"excluding a zone ('{zone}') is not supported yet: "
                    "name the zones to watch instead"
                )
            _add(places, zone)
            scan.consume(match.start(), match.end(), f'in zone "{zone}"')
    return None


def _phrase_words(text: str) -> list[str]:
    words: list[str] = []
    for word in text.split():
        if word in FILLER_WORDS and word not in ANYWHERE_NOUNS:
            break
        words.append(word)
    return words


def _known_list(zone_names: Sequence[str]) -> str:
    if not zone_names:
        return "this camera has no zones yet: draw one, or leave the place out"
    return "this camera's zones are: " + ", ".join(zone_names)


def read_place_phrases(scan: Scan, zone_names: Sequence[str], places: Places) -> str | None:
    """Resolve "in/at/near the …" phrases that name no known zone; return an error."""
    keys = {zone: {_singular(word) for word in _key(zone)} for zone in zone_names if zone.strip()}
    for match in scan.finditer(_PHRASE):
        words = _phrase_words(match[1])
        if not words:
            continue
        end = match.start(1) + list(re.finditer(r"\S+", match[1]))[len(words) - 1].end()
        if _BEFORE_CONSUMED.match(scan.work, end):
            continue  # modifiers of a zone already read: "near the front gate" (zone "gate")
        phrase = " ".join(words)
        if all(word in _ANYWHERE for word in words):
            scan.consume(match.start(), end, "anywhere in view")
            continue
        if words[-1] in _OBJECT_NOUNS:
            places.warnings.append(
                f"places relative to other objects ('{scan.text_of(match.start(), end)}') are "
                "not understood yet: draw a zone there instead"
            )
            scan.consume(match.start(), end)
            continue
        if words[-1] in _NOT_PLACES:
            continue
        wanted = {_singular(word) for word in words if word not in _SUFFIX_WORDS}
        candidates = [zone for zone, key in keys.items() if wanted and wanted <= key]
        if len(candidates) == 1:
            _add(places, candidates[0])
            scan.consume(match.start(), end, f'in zone "{candidates[0]}"')
            continue
        if candidates:
            return f"'{phrase}' could be any of the zones " + ", ".join(candidates) + ": say which"
        return f"unknown zone '{phrase}': {_known_list(zone_names)}"
    return None
