"""Text embeddings for events and search queries, cached by text and computed off the loop.

Event texts repeat a lot (the same label on the same camera and zone), so an LRU keyed by the
exact text saves almost every model run; misses go to the model in one batch on a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from orin.text.embedding import TextEmbedder, default_embedder

FloatArray = NDArray[np.float32]

CACHE_SIZE = 4096
"""Texts kept (about 1.5 KiB each): far more than the distinct texts of a busy space."""


class EmbeddingCache:
    """Unit vectors of texts, an LRU in front of a `TextEmbedder`; safe across threads."""

    def __init__(
        self,
        embedder: Callable[[], TextEmbedder] = default_embedder,
        size: int = CACHE_SIZE,
    ) -> None:
        self._embedder = embedder
        self._size = size
        self._lock = threading.Lock()
        self._vectors: OrderedDict[str, FloatArray] = OrderedDict()

    def _cached(self, text: str) -> FloatArray | None:
        with self._lock:
            vector = self._vectors.get(text)
            if vector is not None:
                self._vectors.move_to_end(text)
            return vector

    def _keep(self, texts: Sequence[str], vectors: FloatArray) -> None:
        with self._lock:
            for text, vector in zip(texts, vectors, strict=True):
                self._vectors[text] = vector
                self._vectors.move_to_end(text)
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)

    async def embed(self, texts: Sequence[str]) -> list[FloatArray]:
        """One read-only (384,) vector per text; the uncached ones in one model run."""
        found: dict[str, FloatArray | None] = {
            text: self._cached(text) for text in dict.fromkeys(texts)
        }
        missing = [text for text, vector in found.items() if vector is None]
        if missing:
            vectors = await asyncio.to_thread(self._embedder().embed, missing)
            vectors.flags.writeable = False
            self._keep(missing, vectors)
            found.update(zip(missing, vectors, strict=True))
        return [vector for text in texts if (vector := found[text]) is not None]

    async def embed_one(self, text: str) -> FloatArray:
        """The vector of one text."""
        return (await self.embed([text]))[0]


text_embeddings = EmbeddingCache()
"""The process-wide cache used by event recording and search."""
