"""Recording events on both databases: search text, review state, batching, embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orin.db import Database
from orin.events.embeddings import EmbeddingCache, FloatArray
from orin.events.service import NewEvent, record_event, record_events, search_text_for
from orin.models.camera import Camera
from orin.models.event import EMBEDDING_DIM, Event, EventKind, ReviewState
from orin.models.guard import Guard
from orin.models.space import Space
from orin.text.embedding import TextEmbedder

AT = datetime(2026, 3, 10, 12, tzinfo=UTC)


class CountingEmbedder(TextEmbedder):
    """A fake model: a fixed vector per text, and a log of the batches it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> FloatArray:
        self.batches.append(list(texts))
        vectors = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row, hash(text) % EMBEDDING_DIM] = 1.0
        return vectors


async def _place(session: AsyncSession) -> tuple[Space, Camera, Guard]:
    space = Space(name="Home")
    session.add(space)
    await session.flush()
    camera = Camera(space_id=space.id, name="Back yard", main_url="rtsp://127.0.0.1/x")
    guard = Guard(space_id=space.id, name="Pets on the lawn")
    session.add_all([camera, guard])
    await session.flush()
    return space, camera, guard


def test_search_text_leads_with_the_label() -> None:
    text = search_text_for(
        kind=EventKind.CATCH,
        label="dog",
        attributes={"colour": "brown", "size": 3, "moving": True, "tags": ["collar", {"x": 1}]},
        camera_name="Back yard",
        zone="Lawn",
        guard_name="Pets on the lawn",
        notes=" barking ",
    )
    assert (
        text
        == "dog: brown 3 collar dog in Lawn on the Back yard camera (Pets on the lawn). barking"
    )
    offline = search_text_for(
        kind=EventKind.CAMERA_OFFLINE,
        label=None,
        attributes=None,
        camera_name="Gate",
        zone=None,
        guard_name=None,
    )
    assert offline == "camera offline: camera offline on the Gate camera"


async def test_record_event_fills_review_state_text_and_embedding(database: Database) -> None:
    async with database.transaction() as session:
        space, camera, guard = await _place(session)
        catch = await record_event(
            session,
            space_id=space.id,
            camera_id=camera.id,
            kind=EventKind.CATCH,
            started_at=AT,
            guard_id=guard.id,
            label="dog",
            zone="Lawn",
            confidence=0.9,
        )
        motion = await record_event(
            session, space_id=space.id, camera_id=camera.id, kind=EventKind.MOTION, started_at=AT
        )
    async with database.transaction() as session:
        stored = await session.scalar(select(Event).where(Event.id == catch.id))
        assert stored is not None
        assert stored.review_state == ReviewState.NEW
        assert stored.search_text == "dog: dog in Lawn on the Back yard camera (Pets on the lawn)"
        assert stored.embedding is not None
        assert stored.embedding.shape == (EMBEDDING_DIM,)
        assert abs(float(np.linalg.norm(stored.embedding)) - 1.0) < 1e-3
        system = await session.scalar(select(Event).where(Event.id == motion.id))
        assert system is not None
        assert system.review_state is None


async def test_a_batch_embeds_each_distinct_text_once(database: Database) -> None:
    embedder = CountingEmbedder()
    cache = EmbeddingCache(lambda: embedder)
    async with database.transaction() as session:
        space, camera, _ = await _place(session)
        items = [
            NewEvent(
                space_id=space.id,
                camera_id=camera.id,
                kind=EventKind.CATCH,
                label=label,
                started_at=AT + timedelta(seconds=n),
            )
            for n, label in enumerate(["dog", "cat", "dog", "dog", "cat"] * 20)
        ]
        ids = await record_events(session, items, embeddings=cache)
        assert len(ids) == len(set(ids)) == 100
        assert [len(batch) for batch in embedder.batches] == [2]
        # Known texts come from the cache.
        await record_events(session, items[:3], embeddings=cache)
        assert len(embedder.batches) == 1
        rows = (
            await session.execute(
                select(Event.id, Event.review_state).where(Event.space_id == space.id)
            )
        ).all()
        assert len(rows) == 103
        assert {row.review_state for row in rows} == {ReviewState.NEW}


async def test_inconsistent_events_are_refused(database: Database) -> None:
    async with database.transaction() as session:
        space, camera, guard = await _place(session)
        other = Space(name="Other")
        session.add(other)
        await session.flush()
        base = {"camera_id": camera.id, "kind": EventKind.CATCH, "started_at": AT}
        for bad in (
            {**base, "space_id": other.id},
            {**base, "space_id": space.id, "ended_at": AT - timedelta(seconds=1)},
            {**base, "space_id": space.id, "confidence": 1.5},
            {**base, "space_id": space.id, "started_at": AT.replace(tzinfo=None)},
            {**base, "space_id": space.id, "kind": EventKind.MOTION, "guard_id": guard.id},
            {**base, "space_id": space.id, "guard_id": "0" * 32},
        ):
            with pytest.raises(ValueError, match=r"."):
                await record_event(session, **bad)  # type: ignore[arg-type]
