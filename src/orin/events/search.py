"""Text search over events, ranked by the similarity of the query to each event's text.

Both texts are embedded with all-MiniLM-L6-v2 (`orin.text.embedding`); the similarity is the
cosine of the two unit vectors. An event whose label is a word of the query gains
`LABEL_BOOST` ("dog" ranks dog catches above a cat on the same camera). Results score at least
`SIMILARITY_THRESHOLD` and at most `RELATIVE_MARGIN` below the best result, best first, newest
first among equal scores.

PostgreSQL: the HNSW index (``vector_cosine_ops``) returns the nearest candidates with
pgvector 0.8's iterative scan (``relaxed_order``), which keeps scanning until enough rows pass
the filters; the candidates come with their exact distances and are re-sorted here. When it
finds fewer than a page (selective filters), a bounded window of the newest events is ranked
exactly as well (`EXACT_WINDOW`).
SQLite: the newest `SQLITE_CANDIDATES` events matching the filters are ranked with numpy;
older ones are not searched.

Only the best `MAX_SEARCH_RESULTS` are reachable, with offset pages: a ranking is not a
stable order (new events can enter it), so paging a search may repeat or skip results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from pgvector.sqlalchemy import Vector
from sqlalchemy import ColumnElement, Float, Subquery, bindparam, false, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from orin.access import event_scope
from orin.events.embeddings import EmbeddingCache, FloatArray, text_embeddings
from orin.events.queries import EventFilters, index_ranges, newest
from orin.models.event import EMBEDDING_DIM, Event

SIMILARITY_THRESHOLD = 0.25
"""Least score of a result. With our event texts, the int8 MiniLM scores unrelated queries
0.0-0.2, other labels 0.15-0.33, synonyms 0.25-0.4 ("parcel" → package) and the label itself
0.35-0.6."""
RELATIVE_MARGIN = 0.20
"""Results also score at least the best result's score minus this: "dog" lists dogs, not the
trucks that come next at 0.3."""
LABEL_BOOST = 0.15
"""Added to the score of an event whose label is a word of the query."""
MAX_SEARCH_RESULTS = 1000
"""How deep a search can be paged."""
SQLITE_CANDIDATES = 50_000
"""SQLite ranks at most this many of the newest matching events."""
EF_SEARCH_MIN = 100
"""``hnsw.ef_search`` floor; raised to the number of candidates wanted (pgvector's max: 1000)."""
MAX_SCAN_TUPLES = 40_000
"""``hnsw.max_scan_tuples``: how far an iterative scan goes looking for rows that pass."""
EXACT_WINDOW = 20_000
"""PostgreSQL: when the index finds fewer candidates than a page needs (selective filters),
the newest this many events of the named space, camera or guard (or all the caller's) in the
time range are ranked exactly too, before the label, kind and review-state filters."""
_EXTRA_CANDIDATES = 50
"""Candidates beyond the page, so the label boost can lift events just below it."""

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class SearchHit:
    event: Event
    score: float


@dataclass(frozen=True, slots=True)
class _Candidate:
    id: str
    started_at: datetime
    label: str | None
    similarity: float


def _words(query: str) -> set[str]:
    words = set(_WORD.findall(query.lower()))
    # Plurals match singular labels: "dogs" finds dog.
    return words | {word[:-1] for word in words if len(word) > 3 and word.endswith("s")}


def _score(candidate: _Candidate, words: set[str]) -> float:
    boost = LABEL_BOOST if candidate.label and candidate.label.lower() in words else 0.0
    return min(1.0, candidate.similarity + boost)


async def _newest(db: AsyncSession, user_id: str, filters: EventFilters, window: int) -> Subquery:
    """The newest ``window`` events of the caller matching the filters, with embeddings."""
    ranges = await index_ranges(db, user_id, filters)
    columns = (
        Event.id,
        Event.started_at,
        Event.label,
        Event.kind,
        Event.review_state,
        Event.embedding,
    )
    # No ranges: the caller sees no events; a contradiction keeps the query valid and empty.
    return newest(user_id, filters, ranges or [false()], columns, limit=window)


def _residual(recent: Subquery, filters: EventFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.label is not None:
        conditions.append(recent.c.label == filters.label)
    if filters.kind is not None:
        conditions.append(recent.c.kind == filters.kind)
    if filters.review_state is not None:
        conditions.append(recent.c.review_state == filters.review_state)
    return conditions


async def _postgres_candidates(
    db: AsyncSession, user_id: str, filters: EventFilters, query: FloatArray, count: int
) -> list[_Candidate]:
    # Transaction-local settings (SET LOCAL), in one round trip.
    await db.execute(
        text(
            "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
            "set_config('hnsw.ef_search', :ef_search, true), "
            "set_config('hnsw.max_scan_tuples', :max_scan_tuples, true)"
        ),
        {
            "ef_search": str(min(1000, max(EF_SEARCH_MIN, count))),
            "max_scan_tuples": str(MAX_SCAN_TUPLES),
        },
    )
    vector = bindparam("query_vector", query, type_=Vector(EMBEDDING_DIM))
    distance = Event.embedding.op("<=>", return_type=Float)(vector)
    rows = list(
        await db.execute(
            select(Event.id, Event.started_at, Event.label, distance)
            .where(event_scope(user_id), Event.embedding.is_not(None), *filters.conditions())
            .order_by(distance)
            .limit(count)
        )
    )
    if len(rows) < count:
        # Selective filters: the index scan ran out (or hit max_scan_tuples) before finding a
        # page. Rank the newest EXACT_WINDOW events of the space/camera/guard and time range
        # exactly too, then apply the other filters: bounded work, whatever the filters.
        window = replace(filters, label=None, kind=None, review_state=None)
        recent = await _newest(db, user_id, window, EXACT_WINDOW)
        exact = recent.c.embedding.op("<=>", return_type=Float)(vector)
        found = {row[0] for row in rows}
        more = await db.execute(
            select(recent.c.id, recent.c.started_at, recent.c.label, exact)
            .where(recent.c.embedding.is_not(None), *_residual(recent, filters))
            .order_by(exact)
            .limit(count)
        )
        rows += [row for row in more if row[0] not in found]
    return [_Candidate(row[0], row[1], row[2], 1.0 - float(row[3])) for row in rows]


async def _sqlite_candidates(
    db: AsyncSession, user_id: str, filters: EventFilters, query: FloatArray
) -> list[_Candidate]:
    recent = await _newest(db, user_id, filters, SQLITE_CANDIDATES)
    rows = (await db.execute(select(recent).where(recent.c.embedding.is_not(None)))).all()
    if not rows:
        return []
    similarities = np.stack([row.embedding for row in rows]) @ query
    return [
        _Candidate(row.id, row.started_at, row.label, float(similarity))
        for row, similarity in zip(rows, similarities, strict=True)
    ]


async def search_events(
    db: AsyncSession,
    user_id: str,
    filters: EventFilters,
    query: str,
    *,
    limit: int,
    offset: int = 0,
    embeddings: EmbeddingCache = text_embeddings,
) -> tuple[list[SearchHit], bool]:
    """Events of the caller matching ``query``, best first: ``limit`` from ``offset``, and
    whether more follow (never beyond `MAX_SEARCH_RESULTS`)."""
    end = min(offset + limit, MAX_SEARCH_RESULTS)
    if offset >= end:
        return [], False
    vector = await embeddings.embed_one(query)
    if db.get_bind().dialect.name == "postgresql":
        candidates = await _postgres_candidates(
            db, user_id, filters, vector, end + 1 + _EXTRA_CANDIDATES
        )
    else:
        candidates = await _sqlite_candidates(db, user_id, filters, vector)
    words = _words(query)
    scored = [(_score(candidate, words), candidate) for candidate in candidates]
    best = max((score for score, _ in scored), default=0.0)
    least = max(SIMILARITY_THRESHOLD, best - RELATIVE_MARGIN)
    ranked = sorted(
        ((score, c) for score, c in scored if score >= least),
        key=lambda item: (item[0], item[1].started_at, item[1].id),
        reverse=True,
    )
    page = ranked[offset:end]
    more = len(ranked) > end and end < MAX_SEARCH_RESULTS
    if not page:
        return [], more
    loaded = await db.scalars(
        select(Event)
        .where(
            Event.id.in_([c.id for _, c in page]),
            Event.started_at.in_(sorted({c.started_at for _, c in page})),
        )
        .options(defer(Event.embedding, raiseload=True))
    )
    by_id = {event.id: event for event in loaded}
    hits = [SearchHit(by_id[c.id], round(score, 4)) for score, c in page if c.id in by_id]
    return hits, more
