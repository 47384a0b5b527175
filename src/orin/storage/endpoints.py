"""Serving the local object store's signed URLs: ``/api/v1/storage/{key}``.

Only the embedded (local folder) store is served here; with S3, signed URLs point at the S3
endpoint itself and this route answers 404.
"""

from __future__ import annotations

import mimetypes
import time
from datetime import datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from orin.deps import StorageDep
from orin.errors import NotFound
from orin.kit.signing import InvalidSignature
from orin.problems import problem_responses
from orin.storage.base import ObjectStorage, SignedMethod
from orin.storage.local import LocalStorage, ObjectTooLarge

logger = structlog.get_logger(__name__)

router = APIRouter(prefix="/api/v1/storage", tags=["storage"])

MAX_PUT_BYTES = 512 * 1024 * 1024
"""Largest object a signed PUT may upload (the body is streamed to disk, never buffered)."""

# Types the platform's own files need and that mimetypes gets wrong or lacks on some systems
# (``.ts`` is often mapped to TypeScript or Qt translations).
_CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".json": "application/json",
}

ExpiresQuery = Annotated[
    int | None, Query(description="Unix time after which the URL stops working.")
]
SignatureQuery = Annotated[str | None, Query(description="HMAC signature of the URL.")]
MethodQuery = Annotated[
    SignedMethod | None, Query(description="HTTP method the URL was signed for.")
]


class StoredObject(BaseModel):
    """An object written through a signed PUT URL."""

    key: str = Field(description="The object's key.")
    size: int = Field(description="Size in bytes.")
    modified_at: datetime = Field(description="When it was written (UTC).")


def content_type_for(key: str) -> str:
    """The media type to serve ``key`` with, from its extension."""
    dot = key.rfind(".")
    if dot > key.rfind("/"):
        known = _CONTENT_TYPES.get(key[dot:].lower())
        if known:
            return known
    guessed, _ = mimetypes.guess_type(key, strict=False)
    return guessed or "application/octet-stream"


def _local_store(storage: ObjectStorage) -> LocalStorage:
    if not isinstance(storage, LocalStorage):
        raise NotFound("this server stores objects in S3: signed URLs point at S3 directly")
    return storage


def _verify(
    storage: LocalStorage,
    key: str,
    route_method: SignedMethod,
    method: SignedMethod | None,
    expires: int | None,
    signature: str | None,
) -> int:
    """Check the URL's signature for ``route_method``; returns its expiry time."""
    if expires is None or not signature:
        raise InvalidSignature("the URL is not signed: expires and signature are required")
    if method is not None and method != route_method:
        raise InvalidSignature(f"the URL was signed for {method}, not {route_method}")
    storage.verify(key, route_method, expires, signature)
    return expires


@router.get(
    "/{key:path}",
    operation_id="storage_get_object",
    response_class=FileResponse,
    responses={
        200: {"description": "The object's bytes.", "content": {"application/octet-stream": {}}},
        **problem_responses(400, 403, 404),
    },
)
async def get_object(
    key: str,
    storage: StorageDep,
    expires: ExpiresQuery = None,
    signature: SignatureQuery = None,
    method: MethodQuery = None,
) -> FileResponse:
    """Download an object through a signed GET URL (byte ranges supported)."""
    local = _local_store(storage)
    expires_at = _verify(local, key, "GET", method, expires, signature)
    stat = await local.stat(key)
    if stat is None:
        raise NotFound(f"object {key!r} not found")
    # Caches may keep the bytes while the link is valid, and only for this client.
    max_age = max(0, expires_at - int(time.time()))
    return FileResponse(
        local.path_for(key),
        media_type=content_type_for(key),
        stat_result=stat,
        headers={"Cache-Control": f"private, max-age={max_age}"},
    )


@router.put(
    "/{key:path}",
    operation_id="storage_put_object",
    responses=problem_responses(400, 403, 404, 409, 413),
)
async def put_object(
    key: str,
    request: Request,
    storage: StorageDep,
    expires: ExpiresQuery = None,
    signature: SignatureQuery = None,
    method: MethodQuery = None,
) -> StoredObject:
    """Upload an object through a signed PUT URL; the body is the object's bytes."""
    local = _local_store(storage)
    _verify(local, key, "PUT", method, expires, signature)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_PUT_BYTES:
        raise ObjectTooLarge(
            f"object {key!r} exceeds the {MAX_PUT_BYTES} byte limit",
            extra={"max_size": MAX_PUT_BYTES},
        )
    info = await local.put_stream(key, request.stream(), max_size=MAX_PUT_BYTES)
    logger.info("storage.signed_put", key=key, size=info.size)
    return StoredObject(key=info.key, size=info.size, modified_at=info.modified_at)
