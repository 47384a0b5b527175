"""What a guard cannot watch for, and why: a refusal names the reason in plain words.

ORIN sees objects in video. It cannot hear, cannot tell who a person is, and has no detector for
weapons, fire, smoke, water or whether a door is open; an instruction that depends on any of
these is refused rather than silently weakened.
"""

from __future__ import annotations

import re

from orin.guards.lexicon import (
    BRAND_WORDS,
    COLOUR_WORDS,
    FILLER_WORDS,
    NUMBER_WORDS,
    OBJECT_WORDS,
    RELATION_WORDS,
    UNSUPPORTED_ANIMALS,
)
from orin.guards.scan import Scan

__all__ = ["refusal"]


def _compile(source: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w'])(?:{source})(?![\w'])")


_NEGATED = re.compile(
    r"^\W*(?:please\s+)?(?:don't|dont|do\s+not|never|stop)\s+(?:alert|notify|tell|warn|send"
    r"|ping|bother|message|text|email|call|report)"
)
_REFUSALS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        _compile(
            r"sounds?|noises?|noisy|loud|hear|heard|hearing|listen(?:s|ing)?|scream(?:s|ing)?"
            r"|shout(?:s|ing)?|yell(?:s|ing)?|glass\s+break(?:s|ing)?|break(?:s|ing)?\s+glass"
            r"|smash(?:es|ing)?\s+glass|gun\s*shots?|gunfire|bark(?:s|ing)?|howl(?:s|ing)?"
            r"|cry(?:ing)?|cries|sirens?|alarm\s+(?:goes|going)\s+off|car\s+alarms?"
        ),
        "ORIN watches video and cannot hear: sounds ({found}) cannot trigger a guard",
    ),
    (
        _compile(
            r"guns?|pistols?|rifles?|shotguns?|handguns?|firearms?|weapons?|knife|knives"
            r"|machetes?|armed|gunm[ae]n|crowbars?|baseball\s+bats?"
        ),
        "ORIN cannot detect weapons ({found})",
    ),
    (
        _compile(
            r"fires?(?!\s*(?:trucks?|engines?|hydrants?|escapes?|exits?|doors?|pits?|places?))"
            r"|flames?|smoke|smoking|smoky|burning|blaze|on\s+fire|wildfires?"
        ),
        "ORIN cannot detect fire or smoke ({found})",
    ),
    (
        _compile(r"flood(?:s|ing|ed)?|water\s+leaks?|leak(?:s|ing)?"),
        "ORIN cannot detect floods or leaks ({found})",
    ),
    (
        _compile(
            r"(?:doors?|windows?|gates?|garage)\s+(?:is\s+|are\s+|was\s+|has\s+been\s+|left\s+)?"
            r"(?:open|opened|ajar|unlocked|closed|shut)"
        ),
        "ORIN cannot tell whether doors, windows or gates are open ({found})",
    ),
    (
        _compile(
            r"recogni[sz](?:e|es|ed|ing)|identif(?:y|ies|ied|ying)|known\s+(?:person|people|faces?"
            r"|visitors?)|familiar\s+faces?|fac(?:e|ial)\s+recognition"
            r"|who\s+(?:it|they|he|she)\s+(?:is|are)"
        ),
        "ORIN cannot tell who a person is yet (faces are not recognised): "
        "say 'a person' instead of '{found}'",
    ),
    (
        _compile(r"(?:my|our)\s+(?:" + "|".join(sorted(RELATION_WORDS)) + r")(?!'s|s'|\s*'s)"),
        "ORIN cannot tell who a person is yet (faces are not recognised): "
        "say 'a person' instead of '{found}'",
    ),
)
_NAME_AFTER = re.compile(
    r"(?i:\b(?:when|if|once|whenever|until|as\s+soon\s+as|in\s+case)\s+)([A-Z][a-z]+)\b"
    r"(?!\s*(?:[A-Z]|'s\s+(?:car|dog|cat|van|truck|bike)))"
)
_DAY_AND_MONTH_NAMES = frozenset(
    {
        *("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
        *("january", "february", "march", "april", "may", "june", "july", "august"),
        *("september", "october", "november", "december"),
    }
)
_KNOWN_WORDS = (
    FILLER_WORDS
    | BRAND_WORDS
    | COLOUR_WORDS
    | UNSUPPORTED_ANIMALS
    | _DAY_AND_MONTH_NAMES
    | frozenset(OBJECT_WORDS)
    | frozenset(NUMBER_WORDS)
)


def refusal(scan: Scan) -> str | None:
    """Why the instruction cannot become a guard, or ``None`` if nothing forbids it."""
    if _NEGATED.search(scan.work):
        return (
            "a guard says what to alert on, not what to ignore: name what to watch for "
            "(add 'except cats' to leave something out)"
        )
    for pattern, reason in _REFUSALS:
        for match in scan.finditer(pattern):
            return reason.format(found=scan.text_of(match.start(), match.end()))
    for match in _NAME_AFTER.finditer(scan.original):
        name = match[1]
        if name.lower() not in _KNOWN_WORDS and scan.is_free(match.start(1), match.end(1)):
            return (
                f"ORIN cannot tell who a person is yet (faces are not recognised): "
                f"say 'a person' instead of '{name}'"
            )
    return None
