"""Turning a guard match into a catch: media first, then a job through the outbox.

The ingest node has the frame, so it draws the snapshot (the object's box and label) and a
thumbnail and stores both under the catch's keys; then it writes one `CATCH` outbox message in
a transaction. A worker records the event from it (`orin.vision.tasks`). The catch id is derived
from (guard, camera, track): media uploads overwrite the same keys and a redelivered or resent
message finds the event already there, so one match never makes two catches.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import cv2
import numpy as np
from numpy.typing import NDArray

from orin.db import Database
from orin.media.keys import event_media_key
from orin.outbox import enqueue
from orin.storage.base import ObjectStorage
from orin.vision.evaluate import Match

CATCH = "vision.catch"
"""Outbox topic: record a catch (payload: `CatchJob` fields)."""

SNAPSHOT_QUALITY = 88
THUMBNAIL_WIDTH = 320
_BOX_COLOUR = (0, 200, 255)  # amber, in BGR


def catch_id(guard_id: str, camera_id: str, track_id: str) -> str:
    """The catch's id: the same match always gets the same id (32 hex digits)."""
    digest = hashlib.sha256(f"catch\0{guard_id}\0{camera_id}\0{track_id}".encode())
    return digest.hexdigest()[:32]


def draw_catch(
    bgr: NDArray[np.uint8], box: tuple[float, float, float, float], caption: str
) -> NDArray[np.uint8]:
    """A copy of the frame with the normalised ``box`` outlined and captioned."""
    image = bgr.copy()
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (
        round(box[0] * width),
        round(box[1] * height),
        round(box[2] * width),
        round(box[3] * height),
    )
    thickness = max(2, width // 320)
    cv2.rectangle(image, (x1, y1), (x2, y2), _BOX_COLOUR, thickness)
    scale = max(0.5, width / 1280)
    (text_w, text_h), baseline = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    top = max(0, y1 - text_h - baseline - 4)
    cv2.rectangle(image, (x1, top), (x1 + text_w + 6, top + text_h + baseline + 4), _BOX_COLOUR, -1)
    cv2.putText(
        image,
        caption,
        (x1 + 3, top + text_h + 2),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    return image


def encode_jpeg(image: NDArray[np.uint8], quality: int = SNAPSHOT_QUALITY) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(data)


def thumbnail(image: NDArray[np.uint8], width: int = THUMBNAIL_WIDTH) -> NDArray[np.uint8]:
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    return np.asarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), np.uint8)


@dataclass(frozen=True, slots=True)
class CatchContext:
    """Where a catch belongs."""

    space_id: str
    camera_id: str


class CatchWriter:
    """Stores a match's media and sends the catch job (ingest side)."""

    def __init__(self, database: Database, storage: ObjectStorage) -> None:
        self.database = database
        self.storage = storage

    async def write(
        self,
        context: CatchContext,
        match: Match,
        frame_bgr: NDArray[np.uint8],
        *,
        track_db_id: str,
    ) -> str:
        """Upload snapshot and thumbnail, enqueue the catch; returns the catch id."""
        event_id = catch_id(match.guard_id, context.camera_id, track_db_id)
        caption = f"{match.label} {match.confidence:.0%}"
        drawn = draw_catch(frame_bgr, match.box, caption)
        snapshot_key = event_media_key(
            context.space_id, context.camera_id, event_id, "snapshot.jpg"
        )
        thumbnail_key = event_media_key(
            context.space_id, context.camera_id, event_id, "thumbnail.jpg"
        )
        await self.storage.put(snapshot_key, encode_jpeg(drawn), content_type="image/jpeg")
        await self.storage.put(
            thumbnail_key, encode_jpeg(thumbnail(drawn), 80), content_type="image/jpeg"
        )
        payload = {
            "event_id": event_id,
            "space_id": context.space_id,
            "camera_id": context.camera_id,
            "guard_id": match.guard_id,
            "track_id": track_db_id,
            "label": match.label,
            "confidence": round(match.confidence, 4),
            "zone": match.zone,
            "box": [round(value, 4) for value in match.box],
            "at": datetime.fromtimestamp(match.at, UTC).isoformat(),
            "dwell_s": match.dwell_s,
            "count": match.count,
            "snapshot_key": snapshot_key,
            "thumbnail_key": thumbnail_key,
        }
        async with self.database.transaction() as session:
            enqueue(session, CATCH, payload)
        return event_id
