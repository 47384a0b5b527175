"""The sentence embedder: shapes, unit vectors, meaning and concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from orin.text import EMBEDDING_DIM, TextEmbedder, default_embedder
from orin.text.embedding import BATCH_SIZE


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    return default_embedder()


def _similarity(embedder: TextEmbedder, a: str, b: str) -> float:
    return float(embedder.embed_one(a) @ embedder.embed_one(b))


def test_embed_returns_one_unit_row_per_text(embedder: TextEmbedder) -> None:
    vectors = embedder.embed(["a person at the door", "a car in the driveway", ""])
    assert vectors.shape == (3, EMBEDDING_DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_an_empty_matrix(embedder: TextEmbedder) -> None:
    vectors = embedder.embed([])
    assert vectors.shape == (0, EMBEDDING_DIM)
    assert vectors.dtype == np.float32


def test_a_bare_string_is_refused(embedder: TextEmbedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed("not a list")


def test_embed_one_matches_embed(embedder: TextEmbedder) -> None:
    one = embedder.embed_one("someone is loitering")
    assert one.shape == (EMBEDDING_DIM,)
    np.testing.assert_allclose(one, embedder.embed(["someone is loitering"])[0], atol=1e-5)


def test_batches_longer_than_one_chunk_keep_their_order(embedder: TextEmbedder) -> None:
    texts = [f"camera number {i}" for i in range(BATCH_SIZE + 5)]
    together = embedder.embed(texts)
    assert together.shape == (len(texts), EMBEDDING_DIM)
    np.testing.assert_allclose(together[-1], embedder.embed([texts[-1]])[0], atol=1e-4)


def test_long_text_is_truncated_not_refused(embedder: TextEmbedder) -> None:
    vector = embedder.embed_one("word " * 2000)
    assert vector.shape == (EMBEDDING_DIM,)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_a_delivered_parcel_is_closer_to_package_than_to_car(embedder: TextEmbedder) -> None:
    sentence = "a parcel was delivered"
    assert _similarity(embedder, sentence, "package") > _similarity(embedder, sentence, "car")


def test_cyclist_is_close_to_bicycle(embedder: TextEmbedder) -> None:
    assert _similarity(embedder, "cyclist", "bicycle") > 0.6
    assert _similarity(embedder, "cyclist", "bicycle") > _similarity(embedder, "cyclist", "dog")


def test_cached_vectors_are_read_only(embedder: TextEmbedder) -> None:
    vector = embedder.embed_one("read only please")
    with pytest.raises(ValueError, match="read-only"):
        vector[0] = 1.0


def test_concurrent_calls_agree(embedder: TextEmbedder) -> None:
    texts = [f"a dog in the yard {i}" for i in range(16)]
    expected = embedder.embed(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda t: embedder.embed([t])[0], texts))
    np.testing.assert_allclose(np.stack(results), expected, atol=1e-4)


def test_default_embedder_is_a_singleton() -> None:
    assert default_embedder() is default_embedder()
