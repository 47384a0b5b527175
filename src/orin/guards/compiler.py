"""The guard instruction compiler: plain words in, a validated :class:`Rule` (or a reason) out.

Recognisers consume the instruction in a fixed order, each taking the phrases it knows and
recording what they meant: known zone names, refusals (what ORIN cannot watch for), numbers
(cooldown, dwell, counts, confidence, size), severity and channels, the schedule, left objects,
place phrases, object words, and words for features ORIN ignores (colours, clothing, …).
Filler words are dropped; words still left are tried against the detector classes with the
text embedder (when one is given) and otherwise reported as not understood. The result is the
same for the same input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import ValidationError

from orin.guards.alerting import read_alerting
from orin.guards.amounts import LOITER_DWELL_S, Amounts, CountLimit, format_seconds, read_amounts
from orin.guards.lexicon import (
    ACTION_WORDS,
    BRAND_WORDS,
    CLOTHING_WORDS,
    COLOUR_WORDS,
    FILLER_WORDS,
    SIZE_WORDS,
)
from orin.guards.objects import OBJECT_WORDS_RE, Objects, classes_by_similarity, read_objects
from orin.guards.places import Places, read_known_zones, read_place_phrases
from orin.guards.refusals import refusal
from orin.guards.rule import (
    LEFT_OBJECT_DWELL_S,
    MAX_COOLDOWN_S,
    MAX_DWELL_S,
    CountThreshold,
    ObjectClass,
    Rule,
)
from orin.guards.scan import Scan, Understood
from orin.guards.when import read_schedule
from orin.text import TextEmbedder

__all__ = ["MAX_INSTRUCTION_CHARS", "Compilation", "Understood", "compile_instruction"]

MAX_INSTRUCTION_CHARS = 500
#: Kinds that can be "left": a left-object rule drops people and animals when one is named.
_INANIMATE = frozenset(
    {
        ObjectClass.PACKAGE,
        ObjectClass.BACKPACK,
        ObjectClass.HANDBAG,
        ObjectClass.SUITCASE,
        ObjectClass.UMBRELLA,
        ObjectClass.BICYCLE,
        ObjectClass.CAR,
        ObjectClass.MOTORCYCLE,
        ObjectClass.TRUCK,
        ObjectClass.BUS,
        ObjectClass.BOAT,
    }
)
_EXAMPLE = "e.g. 'a person in the driveway after 10pm'"


@dataclass(frozen=True)
class Compilation:
    """The outcome of compiling one instruction: a rule, or the reason there is none."""

    status: Literal["valid", "invalid"]
    rule: Rule | None
    understood: list[Understood] = field(default_factory=list)
    not_understood: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reason: str | None = None


def _compile(source: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w'])(?:{source})(?![\w'])")


_LEFT = _compile(
    r"(?:is|was|are|were|been|gets?|got|being|be)\s+(?:left|abandoned|placed|put\s+down"
    r"|set\s+down|lying\s+around)"
    r"|left\s+(?:behind|unattended|alone|outside|there|lying\s+around|out)"
    r"|left(?=\s+(?:at|on|in|by|near|outside|next|\x00))|unattended|abandoned"
)
_DELIVERED = _compile(
    r"(?:is|was|are|were|been|gets?|got|being|be)\s+(?:delivered|dropped\s+off|dropped)"
    r"|deliver(?:s|ed|ing)?|dropped\s+off|drops?\s+off|dropping\s+off|drop-?offs?"
)
_UNKNOWN_PEOPLE = _compile(
    r"unknown\s+(?=person|people|visitors?|faces?)|(?:i|we)\s+(?:don't|do\s+not)\s+know"
    r"|(?:doesn't|does\s+not|don't|do\s+not)\s+live\s+here"
    r"|not\s+(?:from\s+)?(?:my|our)\s+(?:family|household)"
)
_STRANGER = _compile(r"strangers?")
_FACES = _compile(r"faces?|facial")
_PLATES = _compile(
    r"(?:licen[cs]e|number|registration|reg)\s+plates?(?:\s+numbers?)?|plates?"
    r"|registration(?:\s+numbers?)?"
)
_WORD_GROUP = re.compile(r"[^\W_][\w'\-]*(?:[ ]+[^\W_][\w'\-]*)*")
_WORD_WARNINGS: tuple[tuple[frozenset[str], str], ...] = (
    (COLOUR_WORDS, "colours are not recognised yet: {words} ignored"),
    (CLOTHING_WORDS, "clothing is not recognised yet: {words} ignored"),
    (ACTION_WORDS, "actions are not recognised yet: {words} ignored, any matching object counts"),
    (SIZE_WORDS, "sizes in words are not understood: {words} ignored"),
    (BRAND_WORDS, "companies are not recognised: {words} ignored"),
)


def _invalid(
    reason: str, scan: Scan | None = None, warnings: list[str] | None = None
) -> Compilation:
    return Compilation(
        status="invalid",
        rule=None,
        understood=scan.understood() if scan else [],
        not_understood=[],
        warnings=_unique(warnings or []),
        reason=reason,
    )


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _read_left(scan: Scan) -> tuple[bool, bool]:
    """(left_object, implies a package) from "is left", "delivered", "dropped off" …"""
    left = delivered = False
    for match in scan.finditer(_DELIVERED):
        left = delivered = True
        scan.consume(match.start(), match.end(), "a left object (it stays where it was put)")
    for match in scan.finditer(_LEFT):
        left = True
        scan.consume(match.start(), match.end(), "a left object (it stays where it was put)")
    return left, delivered


def _people_warnings(scan: Scan, warnings: list[str]) -> None:
    found = False
    for match in scan.finditer(_UNKNOWN_PEOPLE):
        found = True
        scan.consume(match.start(), match.end())
    if found or any(True for _ in scan.finditer(_STRANGER)):
        warnings.append("faces are not recognised yet: every person matches, known or not")


def _feature_warnings(scan: Scan, warnings: list[str]) -> bool:
    """Consume words for features ORIN ignores, with warnings; whether faces were named."""
    faces = any(True for _ in scan.finditer(_FACES))
    for pattern, message in (
        (_FACES, "faces are not recognised yet: the guard watches for people"),
        (_PLATES, "licence plates are not read yet: any vehicle matches"),
    ):
        for match in scan.finditer(pattern):
            warnings.append(message)
            scan.consume(match.start(), match.end())
    for vocabulary, message in _WORD_WARNINGS:
        hits = [word for word in scan.words() if word[0] in vocabulary]
        if hits:
            quoted = ", ".join(f"'{scan.text_of(w.start(), w.end())}'" for w in hits)
            warnings.append(message.format(words=quoted))
            for word in hits:
                scan.consume(word.start(), word.end())
    return faces


def _drop_filler(scan: Scan) -> None:
    for word in scan.words():
        if word[0] in FILLER_WORDS:
            scan.consume(word.start(), word.end())


def _by_similarity(scan: Scan, embedder: TextEmbedder, objects: Objects) -> None:
    for word in scan.words():
        text = word[0]
        if len(text) < 3 or not text.replace("-", "").isalpha():
            continue
        matches = classes_by_similarity(embedder, text)
        if not matches:
            continue
        classes = [label for label, _ in matches]
        objects.add(classes)
        scan.consume(word.start(), word.end())
        meaning = " or ".join(f"{label} (similarity {score:.2f})" for label, score in matches)
        scan.record(word.start(), word.end(), meaning, similarity=matches[0][1])


def _combine_counts(
    counts: list[CountLimit],
) -> tuple[CountThreshold | None, str | None, str | None]:
    """(threshold, warning, error) for the count limits found."""
    if not counts:
        return None, None, None
    low, high = 0, None
    for limit in counts:
        bounds = {
            "gt": (limit.value + 1, None),
            "gte": (limit.value, None),
            "lt": (0, limit.value - 1),
            "lte": (0, limit.value),
            "eq": (limit.value, limit.value),
        }[limit.op]
        low = max(low, bounds[0])
        if bounds[1] is not None:
            high = bounds[1] if high is None else min(high, bounds[1])
    texts = _unique([limit.text for limit in counts])
    if (high is not None and low > high) or (high is not None and high < 0):
        return (
            None,
            None,
            "the counts contradict each other: " + " and ".join(f"'{text}'" for text in texts),
        )
    if len(counts) == 1:
        return CountThreshold(op=counts[0].op, value=counts[0].value), None, None
    if high is None:
        return CountThreshold(op="gte", value=low), None, None
    if low == high:
        return CountThreshold(op="eq", value=low), None, None
    if low == 0:
        return CountThreshold(op="lte", value=high), None, None
    warning = f"only one count limit is kept: at least {low} (at most {high} is ignored)"
    return CountThreshold(op="gte", value=low), warning, None


def _final_objects(
    objects: Objects,
    amounts: Amounts,
    left: bool,
    delivered: bool,
    faces: bool,
    warnings: list[str],
) -> list[ObjectClass]:
    classes = list(objects.classes)
    if delivered and ObjectClass.PACKAGE not in classes:
        classes.append(ObjectClass.PACKAGE)
    if not classes and (amounts.crowd or amounts.loitering or faces):
        classes = [ObjectClass.PERSON]
    classes = [item for item in classes if item not in objects.excluded]
    if left and any(item in _INANIMATE for item in classes):
        dropped = [item for item in classes if item not in _INANIMATE]
        if dropped:
            warnings.append(
                "only the left object is watched: "
                + ", ".join(str(item) for item in dropped)
                + " ignored"
            )
        classes = [item for item in classes if item in _INANIMATE]
    return classes


def _not_understood(scan: Scan) -> list[str]:
    return [scan.text_of(m.start(), m.end()) for m in _WORD_GROUP.finditer(scan.work)]


def compile_instruction(
    text: str, *, zone_names: Sequence[str], embedder: TextEmbedder | None = None
) -> Compilation:
    """Compile a plain-words instruction into a guard rule for a camera with ``zone_names``.

    Without an ``embedder`` only the lexicon is used for object words.
    """
    if not text.strip():
        return _invalid(f"the instruction is empty: say what to watch for, {_EXAMPLE}")
    if len(text) > MAX_INSTRUCTION_CHARS:
        return _invalid(
            f"the instruction is longer than {MAX_INSTRUCTION_CHARS} characters: shorten it"
        )
    scan = Scan(text)
    warnings: list[str] = []
    places = Places()
    if problem := read_known_zones(scan, zone_names, places):
        return _invalid(problem, scan)
    if reason := refusal(scan):
        return _invalid(reason, scan)
    amounts = read_amounts(scan, OBJECT_WORDS_RE)
    if amounts.error:
        return _invalid(amounts.error, scan)
    alerting = read_alerting(scan)
    when = read_schedule(scan)
    if when.error:
        return _invalid(when.error, scan)
    left, delivered = _read_left(scan)
    _people_warnings(scan, warnings)
    if problem := read_place_phrases(scan, zone_names, places):
        return _invalid(problem, scan)
    objects = Objects()
    read_objects(scan, objects)
    faces = _feature_warnings(scan, warnings)
    _drop_filler(scan)
    if embedder is not None:
        _by_similarity(scan, embedder, objects)
    warnings += amounts.warnings + alerting.warnings + when.warnings
    warnings += places.warnings + objects.warnings

    classes = _final_objects(objects, amounts, left, delivered, faces, warnings)
    if not classes:
        if objects.excluded:
            reason = "nothing is left to watch for: name what to watch for, 'except …' narrows it"
        elif not scan.understood():
            reason = f"the instruction could not be understood: say what to watch for, {_EXAMPLE}"
        else:
            reason = (
                "no object to watch for was named: say what to watch for "
                "(a person, a car, a package, an animal, …)"
            )
        return _invalid(reason, scan, warnings)
    count, count_warning, count_error = _combine_counts(amounts.counts)
    if count_error:
        return _invalid(count_error, scan, warnings)
    if count_warning:
        warnings.append(count_warning)
    dwell = amounts.dwell_s
    if dwell is None:
        dwell = LEFT_OBJECT_DWELL_S if left else (LOITER_DWELL_S if amounts.loitering else 0.0)
    if dwell > MAX_DWELL_S:
        return _invalid(f"a dwell of {format_seconds(dwell)} is longer than 24 hours", scan)
    if amounts.cooldown_s is not None and amounts.cooldown_s > MAX_COOLDOWN_S:
        return _invalid("a cooldown longer than a day is not supported", scan)
    fields: dict[str, object] = {
        "objects": classes,
        "zones": places.zones,
        "schedule": when.schedule,
        "min_dwell_s": dwell,
        "count": count,
        "left_object": left,
        "channels": alerting.channels,
    }
    optional = {
        "min_confidence": amounts.min_confidence,
        "min_size": amounts.min_size,
        "cooldown_s": amounts.cooldown_s,
        "severity": alerting.severity,
    }
    fields.update({key: value for key, value in optional.items() if value is not None})
    try:
        rule = Rule.model_validate(fields)
    except ValidationError as error:
        detail = error.errors()[0]
        return _invalid(f"the rule is not valid: {detail['msg']}", scan, warnings)
    return Compilation(
        status="valid",
        rule=rule,
        understood=scan.understood(),
        not_understood=_not_understood(scan),
        warnings=_unique(warnings),
        reason=None,
    )
