"""The scaled object store: any S3 API (AWS, MinIO, SeaweedFS) through aiobotocore.

One client (and its HTTP connection pool) lives from `S3Storage.start` to `S3Storage.close`.
Addressing is path-style (``endpoint/bucket/key``), which every S3-compatible server accepts,
and short timeouts with one retry make an unreachable endpoint fail within seconds.

aiobotocore is the engine under aioboto3; it is used directly because types-aiobotocore types
it fully, while aioboto3's session wrapper ships no type information and adds nothing needed here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn, cast
from urllib.parse import urlsplit, urlunsplit

import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from orin.config import S3Settings
from orin.errors import AdapterUnavailable, NotFound
from orin.storage.base import ObjectInfo, ObjectStorage, SignedMethod, check_key

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.literals import BucketLocationConstraintType

logger = structlog.get_logger(__name__)

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
_DELETE_BATCH = 1000  # DeleteObjects accepts at most 1000 keys per request


def _safe_endpoint(endpoint: str) -> str:
    """``endpoint`` without any user:password part, for messages and logs."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class S3Storage(ObjectStorage):
    """Objects in one S3 bucket; signed URLs are S3 presigned URLs."""

    def __init__(
        self,
        settings: S3Settings,
        *,
        default_ttl_s: int = 900,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 30.0,
        max_attempts: int = 2,
    ) -> None:
        if not settings.endpoint:
            raise ValueError("S3Storage needs settings.endpoint")
        self.settings = settings
        self.endpoint = settings.endpoint
        self.bucket = settings.bucket
        self.default_ttl_s = default_ttl_s
        self._where = _safe_endpoint(settings.endpoint)
        self._config = AioConfig(
            region_name=settings.region,
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
            # Only send/check payload checksums where S3 requires them: several S3-compatible
            # servers reject the CRC headers newer botocore adds by default.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._stack: AsyncExitStack | None = None
        self._client: S3Client | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the client and make sure the bucket exists (creating it when allowed)."""
        if self._client is not None:
            return
        stack = AsyncExitStack()
        session = get_session()
        secret = self.settings.secret_key.get_secret_value()
        client = await stack.enter_async_context(
            session.create_client(
                "s3",
                endpoint_url=self.endpoint,
                region_name=self.settings.region,
                aws_access_key_id=self.settings.access_key or None,
                aws_secret_access_key=secret or None,
                config=self._config,
            )
        )
        self._stack, self._client = stack, client
        try:
            await self._ensure_bucket(client)
        except BaseException:
            await self.close()
            raise
        logger.info("storage.s3.started", endpoint=self._where, bucket=self.bucket)

    async def _ensure_bucket(self, client: S3Client) -> None:
        try:
            await client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if _code(exc) not in _NOT_FOUND_CODES | {"NoSuchBucket"}:
                self._raise(exc, "head_bucket")
        except (BotoCoreError, OSError) as exc:
            self._raise(exc, "head_bucket")
        if not self.settings.create_bucket:
            raise AdapterUnavailable(
                f"S3 bucket {self.bucket!r} does not exist at {self._where} "
                "(and ORIN_S3_CREATE_BUCKET is off)"
            )
        with self._errors("create_bucket"):
            try:
                if self.settings.region == "us-east-1":
                    await client.create_bucket(Bucket=self.bucket)
                else:
                    await client.create_bucket(
                        Bucket=self.bucket,
                        CreateBucketConfiguration={
                            "LocationConstraint": cast(
                                "BucketLocationConstraintType", self.settings.region
                            )
                        },
                    )
            except ClientError as exc:
                # Another replica created it between our check and our create.
                if _code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise
        logger.info("storage.s3.bucket_created", endpoint=self._where, bucket=self.bucket)

    async def close(self) -> None:
        """Close the client and its connections."""
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def ping(self) -> None:
        """Raise `AdapterUnavailable` unless the bucket answers."""
        with self._errors("head_bucket"):
            await self._s3.head_bucket(Bucket=self.bucket)

    # -- errors -----------------------------------------------------------------------------

    @property
    def _s3(self) -> S3Client:
        if self._client is None:
            raise AdapterUnavailable(f"S3 storage at {self._where} is not started")
        return self._client

    def _raise(self, exc: Exception, operation: str, key: str | None = None) -> NoReturn:
        if isinstance(exc, ClientError):
            code = _code(exc)
            if key is not None and code in _NOT_FOUND_CODES:
                raise NotFound(f"object {key!r} not found") from None
            if code == "NoSuchBucket":
                raise AdapterUnavailable(
                    f"S3 bucket {self.bucket!r} does not exist at {self._where}"
                ) from None
            raise AdapterUnavailable(
                f"S3 at {self._where} refused {operation}: {code or 'error'}"
            ) from None
        raise AdapterUnavailable(
            f"S3 at {self._where} unreachable during {operation} ({type(exc).__name__})"
        ) from None

    @contextlib.contextmanager
    def _errors(self, operation: str, key: str | None = None) -> Iterator[None]:
        """Translate botocore failures into `NotFound` / `AdapterUnavailable`."""
        try:
            yield
        except (ClientError, BotoCoreError, OSError) as exc:
            logger.debug("storage.s3.failed", operation=operation, error=str(exc))
            self._raise(exc, operation, key)

    # -- objects ----------------------------------------------------------------------------

    async def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> ObjectInfo:
        """Write ``data`` at ``key``. ``modified_at`` is this host's clock at the write."""
        check_key(key)
        with self._errors("put_object", key):
            await self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
            )
        return ObjectInfo(key=key, size=len(data), modified_at=datetime.now(UTC))

    async def get(self, key: str) -> bytes:
        """The object's bytes; raises `NotFound` when missing."""
        check_key(key)
        with self._errors("get_object", key):
            response = await self._s3.get_object(Bucket=self.bucket, Key=key)
            async with response["Body"] as body:
                return await body.read()

    async def head(self, key: str) -> ObjectInfo | None:
        """Size and modification time of ``key``, or None when missing."""
        check_key(key)
        try:
            with self._errors("head_object", key):
                response = await self._s3.head_object(Bucket=self.bucket, Key=key)
        except NotFound:
            return None
        return ObjectInfo(
            key=key,
            size=response["ContentLength"],
            modified_at=response["LastModified"].astimezone(UTC),
        )

    async def delete(self, *keys: str) -> None:
        """Delete objects in batches; missing keys are ignored."""
        for key in keys:
            check_key(key)
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _DELETE_BATCH):
            batch = unique[start : start + _DELETE_BATCH]
            with self._errors("delete_objects"):
                response = await self._s3.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            errors = response.get("Errors", [])
            if errors:
                first = errors[0]
                raise AdapterUnavailable(
                    f"S3 at {self._where} failed to delete {len(errors)} object(s), "
                    f"first {first.get('Key')!r}: {first.get('Code')}"
                )

    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Objects whose key starts with ``prefix``, sorted by key."""
        found: list[ObjectInfo] = []
        with self._errors("list_objects_v2"):
            paginator = self._s3.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    found.append(
                        ObjectInfo(
                            key=item["Key"],
                            size=item["Size"],
                            modified_at=item["LastModified"].astimezone(UTC),
                        )
                    )
        found.sort(key=lambda info: info.key)
        return found

    async def signed_url(
        self, key: str, *, method: SignedMethod = "GET", expires_in_s: int | None = None
    ) -> str:
        """A presigned S3 URL for ``get_object`` or ``put_object`` on ``key``."""
        check_key(key)
        operation = "get_object" if method == "GET" else "put_object"
        with self._errors("generate_presigned_url"):
            return await self._s3.generate_presigned_url(
                operation,
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=expires_in_s or self.default_ttl_s,
            )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
