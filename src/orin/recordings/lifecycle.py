"""The bucket's lifecycle rule that archives media: S3 moves objects under ``spaces/`` to a
colder storage class some days after they were written.

Retention stays with ORIN (`orin.recordings.retention` deletes rows and objects together); the
rule only changes where the bytes live. The default class, ``GLACIER_IR``, still serves reads
at once, so archived recordings keep playing; ``GLACIER`` and ``DEEP_ARCHIVE`` would need a
restore first and break playback of those segments. An optional expiration is a backstop for
objects nothing indexes any more: set it beyond the longest plan retention.

Other rules on the bucket are kept: only the rule with id `RULE_ID` is replaced or removed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from orin.config import S3Settings
from orin.errors import AdapterUnavailable

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.literals import TransitionStorageClassType
    from types_aiobotocore_s3.type_defs import LifecycleRuleOutputTypeDef, LifecycleRuleTypeDef

logger = structlog.get_logger(__name__)

RULE_ID = "orin-archive"
MEDIA_PREFIX = "spaces/"


def archive_rule(
    *,
    archive_after_days: int,
    storage_class: TransitionStorageClassType = "GLACIER_IR",
    expire_after_days: int | None = None,
    prefix: str = MEDIA_PREFIX,
) -> LifecycleRuleTypeDef:
    """The rule: transition after ``archive_after_days`` (0: none), expire after
    ``expire_after_days`` (None: never)."""
    if archive_after_days < 0 or (expire_after_days is not None and expire_after_days < 1):
        raise ValueError("lifecycle days must be positive")
    if expire_after_days is not None and expire_after_days <= archive_after_days:
        raise ValueError("objects must expire after they are archived")
    rule: LifecycleRuleTypeDef = {
        "ID": RULE_ID,
        "Filter": {"Prefix": prefix},
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }
    if archive_after_days:
        rule["Transitions"] = [{"Days": archive_after_days, "StorageClass": storage_class}]
    if expire_after_days is not None:
        rule["Expiration"] = {"Days": expire_after_days}
    return rule


async def _current_rules(client: S3Client, bucket: str) -> list[LifecycleRuleOutputTypeDef]:
    try:
        response = await client.get_bucket_lifecycle_configuration(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
            return []
        raise
    return list(response.get("Rules", []))


@asynccontextmanager
async def s3_client(settings: S3Settings) -> AsyncIterator[S3Client]:
    """A short-lived client on the configured endpoint (path-style, like `S3Storage`)."""
    if not settings.endpoint:
        raise ValueError("lifecycle rules need an S3 endpoint")
    secret = settings.secret_key.get_secret_value()
    async with get_session().create_client(
        "s3",
        endpoint_url=settings.endpoint,
        region_name=settings.region,
        aws_access_key_id=settings.access_key or None,
        aws_secret_access_key=secret or None,
        config=AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    ) as client:
        yield client


async def put_archive_rule(
    client: S3Client,
    bucket: str,
    *,
    archive_after_days: int,
    storage_class: TransitionStorageClassType = "GLACIER_IR",
    expire_after_days: int | None = None,
    prefix: str = MEDIA_PREFIX,
) -> list[LifecycleRuleOutputTypeDef]:
    """Set (or, with neither transition nor expiration, remove) ORIN's rule on ``bucket``,
    keeping other rules; returns the bucket's rules as S3 reports them afterwards.

    Raises `AdapterUnavailable` when S3 refuses (SeaweedFS, for one, implements expiration
    but answers ``NotImplemented`` to transitions).
    """
    try:
        others = [
            rule for rule in await _current_rules(client, bucket) if rule.get("ID") != RULE_ID
        ]
        rules: list[LifecycleRuleTypeDef] = [dict(rule) for rule in others]  # type: ignore[misc]
        if archive_after_days or expire_after_days is not None:
            rules.append(
                archive_rule(
                    archive_after_days=archive_after_days,
                    storage_class=storage_class,
                    expire_after_days=expire_after_days,
                    prefix=prefix,
                )
            )
        if rules:
            await client.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": rules}
            )
        else:
            await client.delete_bucket_lifecycle(Bucket=bucket)
        applied = await _current_rules(client, bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise AdapterUnavailable(
            f"S3 refused the lifecycle rule on bucket {bucket!r}: {code}", extra={"code": code}
        ) from exc
    logger.info(
        "recordings.lifecycle_applied",
        bucket=bucket,
        archive_after_days=archive_after_days,
        storage_class=storage_class,
        expire_after_days=expire_after_days,
    )
    return applied


async def apply_archive_rule(
    settings: S3Settings,
    *,
    archive_after_days: int,
    storage_class: TransitionStorageClassType = "GLACIER_IR",
    expire_after_days: int | None = None,
    prefix: str = MEDIA_PREFIX,
) -> list[LifecycleRuleOutputTypeDef]:
    """`put_archive_rule` on the configured bucket (run at start or from the CLI)."""
    async with s3_client(settings) as client:
        return await put_archive_rule(
            client,
            settings.bucket,
            archive_after_days=archive_after_days,
            storage_class=storage_class,
            expire_after_days=expire_after_days,
            prefix=prefix,
        )
