"""A normalised instruction that recognisers consume piece by piece.

The text is NFKC-normalised and lowercased character by character, so every index in the
normalised text is also an index in the original and the spans shown to the user keep their
case. A consumed span is blanked out (``\\x00``) in :attr:`Scan.work`, so later patterns can
neither match it again nor run across it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["BLANK", "Scan", "Understood", "collapse", "words_pattern"]

BLANK = "\x00"
_QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)
_WORD = re.compile(r"[^\W_][\w'\-]*")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Understood:
    """A piece of the instruction and what it became in the rule."""

    text: str
    meaning: str
    similarity: float | None = None


def collapse(text: str) -> str:
    """``text`` with runs of whitespace made single spaces, and trimmed."""
    return _SPACES.sub(" ", text).strip()


def words_pattern(phrase: str) -> str:
    """A regex source for ``phrase`` that allows any run of spaces between its words."""
    return r"\s+".join(re.escape(word) for word in phrase.split())


def _fold(char: str) -> str:
    if char.isspace():
        return " "
    lower = char.lower()
    return lower if len(lower) == 1 else char


class Scan:
    """The instruction being compiled: what is left of it and what was understood."""

    def __init__(self, text: str) -> None:
        self.original = unicodedata.normalize("NFKC", text).translate(_QUOTES).strip()
        self.norm = "".join(_fold(char) for char in self.original)
        self._work = list(self.norm)
        self._understood: list[tuple[int, Understood]] = []

    @property
    def work(self) -> str:
        """The normalised text with consumed spans blanked out."""
        return "".join(self._work)

    def is_free(self, start: int, end: int) -> bool:
        """Whether no character in ``[start, end)`` has been consumed."""
        return BLANK not in self._work[start:end]

    def finditer(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        """Matches of ``pattern`` in the unconsumed text, skipping any consumed meanwhile."""
        for match in list(pattern.finditer(self.work)):
            if match.end() > match.start() and self.is_free(match.start(), match.end()):
                yield match

    def text_of(self, start: int, end: int) -> str:
        """The original text of a span, whitespace collapsed."""
        return collapse(self.original[start:end])

    def consume(self, start: int, end: int, meaning: str | None = None) -> None:
        """Blank out ``[start, end)``; with a ``meaning``, record it as understood."""
        for index in range(start, end):
            self._work[index] = BLANK
        if meaning is not None:
            self.record(start, end, meaning)

    def record(self, start: int, end: int, meaning: str, similarity: float | None = None) -> None:
        """Record that ``[start, end)`` was understood as ``meaning``."""
        self._understood.append((start, Understood(self.text_of(start, end), meaning, similarity)))

    def understood(self) -> list[Understood]:
        """Everything understood, in the order it appears in the instruction."""
        return [item for _, item in sorted(self._understood, key=lambda pair: pair[0])]

    def words(self) -> list[re.Match[str]]:
        """The unconsumed words, in order."""
        return list(_WORD.finditer(self.work))
