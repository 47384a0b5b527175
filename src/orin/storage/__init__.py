"""Object storage: recordings, snapshots, clips and exports, in a local folder or S3."""

from __future__ import annotations

from orin.config import Settings
from orin.storage.base import InvalidKey, ObjectInfo, ObjectStorage, SignedMethod, check_key
from orin.storage.local import LocalStorage, ObjectTooLarge

__all__ = [
    "InvalidKey",
    "LocalStorage",
    "ObjectInfo",
    "ObjectStorage",
    "ObjectTooLarge",
    "SignedMethod",
    "check_key",
    "create_storage",
]


def create_storage(settings: Settings, *, secret: bytes) -> ObjectStorage:
    """S3 when ``ORIN_S3_ENDPOINT`` is set, else the local folder ``settings.objects_dir``.

    ``secret`` signs the local store's URLs (S3 signs its own with the access key).
    """
    ttl_s = settings.storage.url_ttl_s
    if settings.s3.endpoint:
        # Imported here: botocore takes half a second to import, which embedded mode skips.
        from orin.storage.s3 import S3Storage

        return S3Storage(settings.s3, default_ttl_s=ttl_s)
    return LocalStorage(
        settings.objects_dir, base_url=settings.public_url, secret=secret, default_ttl_s=ttl_s
    )
