"""Re-wrapping every sealed secret under the active key-encryption key (`orin keys rotate`).

Only the small wrapped data keys change; the encrypted values stay as they are. Signing keys
stored as plain PEM (from before they were sealed) are sealed on the way.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from orin.auth.keys import signing_key_purpose, stored_pem
from orin.cameras.credentials import rewrap
from orin.db import Database
from orin.kit.crypto import SealError
from orin.kit.envelope import PREFIX, Envelope
from orin.models.camera import Camera
from orin.models.signing_key import SigningKey

BATCH = 200


@dataclass(frozen=True, slots=True)
class RotationReport:
    cameras: int
    """Camera credential documents re-wrapped."""
    signing_keys: int
    """Signing keys re-wrapped or sealed for the first time."""
    unreadable: tuple[str, ...] = ()
    """``camera:<id>`` / ``signing_key:<kid>`` sealed under a key that is not configured."""


async def _rewrap_cameras(database: Database, envelope: Envelope, unreadable: list[str]) -> int:
    changed = 0
    after = ""
    while True:
        async with database.transaction() as session:
            rows = list(
                await session.scalars(
                    select(Camera)
                    .where(Camera.id > after, Camera.credentials_sealed.is_not(None))
                    .order_by(Camera.id)
                    .limit(BATCH)
                )
            )
            for camera in rows:
                try:
                    changed += rewrap(envelope, camera)
                except SealError:
                    unreadable.append(f"camera:{camera.id}")
        if len(rows) < BATCH:
            return changed
        after = rows[-1].id


async def _reseal_signing_keys(
    database: Database, envelope: Envelope, unreadable: list[str]
) -> int:
    changed = 0
    async with database.transaction() as session:
        for row in await session.scalars(select(SigningKey)):
            purpose = signing_key_purpose(row.kid)
            try:
                if not row.private_pem.startswith(PREFIX + "."):
                    pem = stored_pem(None, row).encode()
                    row.private_pem = envelope.seal(pem, purpose=purpose)
                    changed += 1
                elif envelope.needs_rewrap(row.private_pem):
                    row.private_pem = envelope.rewrap(row.private_pem, purpose=purpose)
                    changed += 1
            except SealError:
                unreadable.append(f"signing_key:{row.kid}")
    return changed


async def rewrap_all(database: Database, envelope: Envelope) -> RotationReport:
    """Re-wrap camera credentials and signing keys under ``envelope``'s active key.

    A secret sealed under a key that is no longer configured is left as it is and named in
    ``unreadable`` (the rest still rotates).
    """
    unreadable: list[str] = []
    cameras = await _rewrap_cameras(database, envelope, unreadable)
    signing_keys = await _reseal_signing_keys(database, envelope, unreadable)
    return RotationReport(cameras, signing_keys, tuple(unreadable))
