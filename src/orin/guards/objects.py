"""Reading *what*: object words from the lexicon, exclusions, and the embedding fallback.

Words the lexicon does not know are compared with short descriptions of every detector class
(:data:`~orin.guards.lexicon.LABEL_DESCRIPTIONS`) by cosine similarity of their MiniLM
embeddings. A word is accepted as the best class when the similarity is at least
:data:`SIMILARITY_THRESHOLD`; other classes within :data:`SIMILARITY_MARGIN` of the best (and
above the threshold) are accepted too ("biker" → bicycle and motorcycle). On this model, nouns
for detector classes score 0.6 to 0.8 ("cyclist" → bicycle 0.78, "puppy" → dog 0.80) while unrelated
words and nonsense stay below 0.5.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from orin.guards.lexicon import (
    ANIMALS,
    CAR_MAKES,
    LABEL_DESCRIPTIONS,
    OBJECT_WORDS,
    UNSUPPORTED_ANIMALS,
)
from orin.guards.rule import ObjectClass
from orin.guards.scan import Scan
from orin.text import TextEmbedder

__all__ = [
    "OBJECT_WORDS_RE",
    "SIMILARITY_MARGIN",
    "SIMILARITY_THRESHOLD",
    "Objects",
    "classes_by_similarity",
    "read_objects",
]

SIMILARITY_THRESHOLD = 0.6
SIMILARITY_MARGIN = 0.05
_SEP = re.compile(r"[\s-]+")
_LOOKUP = {" ".join(_SEP.split(word)): classes for word, classes in OBJECT_WORDS.items()}
_UNSUPPORTED = {" ".join(_SEP.split(word)) for word in UNSUPPORTED_ANIMALS}


def _alternation(words: Iterable[str]) -> str:
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(r"[\s-]+".join(map(re.escape, _SEP.split(word))) for word in ordered)


#: A regex alternation of every lexicon object word (longest first).
OBJECT_WORDS_RE = _alternation([*OBJECT_WORDS, *UNSUPPORTED_ANIMALS, *CAR_MAKES])
_OBJECT = re.compile(rf"(?<![\w'])({OBJECT_WORDS_RE})(?:'s|s')?(?![\w'])")
_ARTICLE = r"(?:(?:a|an|the|any|some)\s+)?"
_EXCLUDED = re.compile(
    r"(?<![\w'])(?:except(?:\s+for)?|excluding|but\s+not|not|ignore|ignoring|other\s+than"
    r"|apart\s+from|besides|unless\s+it(?:'s|\s+is))\s+"
    rf"({_ARTICLE}(?:{OBJECT_WORDS_RE})(?:\s*(?:,|and|or|nor)\s*{_ARTICLE}(?:{OBJECT_WORDS_RE}))*)"
    r"(?![\w'])"
)


@dataclass
class Objects:
    """Object classes an instruction names, in order of appearance."""

    classes: list[ObjectClass] = field(default_factory=list)
    excluded: set[ObjectClass] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    def add(self, classes: tuple[ObjectClass, ...] | list[ObjectClass]) -> None:
        """Add classes not seen yet, keeping order."""
        for item in classes:
            if item not in self.classes:
                self.classes.append(item)


def _key(phrase: str) -> str:
    return " ".join(_SEP.split(phrase.strip()))


def _classes_of(phrase: str) -> tuple[ObjectClass, ...]:
    key = _key(phrase)
    if key in _LOOKUP:
        return _LOOKUP[key]
    if key in CAR_MAKES:
        return (ObjectClass.CAR,)
    return ANIMALS if key in _UNSUPPORTED else ()


def _describe(classes: tuple[ObjectClass, ...] | list[ObjectClass]) -> str:
    return " or ".join(str(item) for item in classes)


def read_objects(scan: Scan, found: Objects) -> None:
    """Consume lexicon object words (and "except …" lists) from ``scan`` into ``found``."""
    for match in scan.finditer(_EXCLUDED):
        excluded: list[ObjectClass] = []
        for item in _OBJECT.finditer(match[1]):
            excluded += _classes_of(item[1])
        found.excluded |= set(excluded)
        scan.consume(match.start(), match.end(), f"ignore {_describe(excluded)}")
    for match in scan.finditer(_OBJECT):
        word = match[1]
        classes = _classes_of(word)
        shown = scan.text_of(match.start(), match.end())
        if _key(word) in _UNSUPPORTED:
            found.warnings.append(
                f"'{shown}' is not something the detector knows: any animal will match"
            )
        elif _key(word) in CAR_MAKES:
            found.warnings.append(f"car makes are not recognised yet: any car matches '{shown}'")
        found.add(classes)
        scan.consume(match.start(), match.end(), _describe(classes))


@functools.lru_cache(maxsize=4)
def _label_vectors(embedder: TextEmbedder) -> tuple[list[ObjectClass], npt.NDArray[np.float32]]:
    labels: list[ObjectClass] = []
    texts: list[str] = []
    for label, descriptions in LABEL_DESCRIPTIONS.items():
        for text in descriptions:
            labels.append(label)
            texts.append(text)
    return labels, np.stack([embedder.embed_one(text) for text in texts])


def classes_by_similarity(embedder: TextEmbedder, word: str) -> list[tuple[ObjectClass, float]]:
    """Detector classes whose descriptions are close enough to ``word``, best first."""
    labels, vectors = _label_vectors(embedder)
    scores = vectors @ embedder.embed_one(word)
    best: dict[ObjectClass, float] = {}
    for label, score in zip(labels, scores.tolist(), strict=True):
        best[label] = max(best.get(label, -1.0), float(score))
    top = max(best.values())
    if top < SIMILARITY_THRESHOLD:
        return []
    chosen = [
        (label, score)
        for label, score in best.items()
        if score >= SIMILARITY_THRESHOLD and score >= top - SIMILARITY_MARGIN
    ]
    return sorted(chosen, key=lambda pair: (-pair[1], pair[0].value))
