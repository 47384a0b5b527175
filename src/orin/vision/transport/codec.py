"""Wire formats of remote detection: frames as raw bytes, detections as JSON.

A request body is ``b"ORF1"``, a little-endian uint32 header length, a JSON header
``{"shapes": [[h, w, c], ...]}`` and then every image's uint8 pixels in C order, back to back:
no pickle, one copy each way. A reply body is JSON, ``{"detections": [[[label, confidence,
x1, y1, x2, y2], ...], ...]}`` (one list per image) or ``{"error": "..."}``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from orin.vision.detectors.base import Detection, Image

MAGIC = b"ORF1"
_PREFIX = struct.Struct("<4sI")
MAX_HEADER_BYTES = 64 * 1024


class FrameError(ValueError):
    """A body that is not in the expected wire format."""


class ReplicaError(Exception):
    """A replica answered with an error instead of detections."""


def encode_images(images: Sequence[Image]) -> bytes:
    """One request body holding ``images`` (uint8 arrays of any shape, contiguous or not)."""
    shapes: list[list[int]] = []
    pixels: list[bytes] = []
    for image in images:
        array = np.asarray(image)
        if array.dtype != np.uint8:
            raise FrameError(f"images must be uint8, got {array.dtype}")
        shapes.append([int(side) for side in array.shape])
        pixels.append(array.tobytes())
    header = orjson.dumps({"shapes": shapes})
    return b"".join((_PREFIX.pack(MAGIC, len(header)), header, *pixels))


def decode_images(body: bytes) -> list[Image]:
    """The images of a request body, as writable arrays sharing one buffer."""
    if len(body) < _PREFIX.size:
        raise FrameError("body shorter than its prefix")
    magic, header_len = _PREFIX.unpack_from(body)
    if magic != MAGIC or header_len > MAX_HEADER_BYTES:
        raise FrameError("not an ORIN frame body")
    start = _PREFIX.size + header_len
    try:
        shapes = _shapes(orjson.loads(body[_PREFIX.size : start]))
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"unreadable frame header: {exc}") from None
    sizes = [math.prod(shape) for shape in shapes]
    if start + sum(sizes) != len(body):
        raise FrameError("frame body size does not match its shapes")
    buffer = bytearray(body)
    images: list[Image] = []
    offset = start
    for shape, size in zip(shapes, sizes, strict=True):
        images.append(np.frombuffer(buffer, np.uint8, size, offset).reshape(shape))
        offset += size
    return images


def _shapes(header: Any) -> list[tuple[int, ...]]:
    shapes = header.get("shapes") if isinstance(header, dict) else None
    if not isinstance(shapes, list):
        raise FrameError("frame header without shapes")
    result: list[tuple[int, ...]] = []
    for shape in shapes:
        if not (
            isinstance(shape, list)
            and 1 <= len(shape) <= 4
            and all(isinstance(side, int) and side >= 0 for side in shape)
        ):
            raise FrameError(f"bad image shape {shape!r}")
        result.append(tuple(shape))
    return result


def encode_detections(results: Sequence[Sequence[Detection]]) -> bytes:
    """A reply body with one list of detections per image."""
    return orjson.dumps(
        {
            "detections": [
                [[d.label, d.confidence, d.x1, d.y1, d.x2, d.y2] for d in found]
                for found in results
            ]
        }
    )


def encode_error(message: str) -> bytes:
    """A reply body saying the detection failed on the replica."""
    return orjson.dumps({"error": message[:2000]})


def decode_reply(body: bytes) -> list[list[Detection]]:
    """The detections of a reply body; `ReplicaError` for an error reply."""
    try:
        reply = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"unreadable reply: {exc}") from None
    if not isinstance(reply, dict):
        raise FrameError("reply is not an object")
    if "error" in reply:
        raise ReplicaError(str(reply["error"]))
    try:
        return [
            [
                Detection(str(label), float(conf), float(x1), float(y1), float(x2), float(y2))
                for label, conf, x1, y1, x2, y2 in found
            ]
            for found in reply["detections"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise FrameError(f"malformed detections in reply: {exc}") from None
