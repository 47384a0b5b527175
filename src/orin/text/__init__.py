"""Text understanding shared by guards and search: sentence embeddings."""

from orin.text.embedding import EMBEDDING_DIM, TextEmbedder, default_embedder

__all__ = ["EMBEDDING_DIM", "TextEmbedder", "default_embedder"]
