"""The keys that sign access tokens (RS256), their `kid`s and the public JWKS.

Keys live in the database so every API replica signs and verifies with the same set; the
first process to start generates one. Rotation makes a new key the signer and keeps the old
one verifying (and published in the JWKS) until every token it signed has expired.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from orin.config import AuthSettings
from orin.db import Database
from orin.kit.crypto import SealError
from orin.kit.envelope import PREFIX as ENVELOPE_PREFIX
from orin.kit.envelope import Envelope
from orin.models.base import utcnow
from orin.models.signing_key import SigningKey

logger = structlog.get_logger(__name__)

RSA_BITS = 2048
RELOAD_EVERY_S = 60.0
MISSING_KID_TTL_S = 60.0
MAX_MISSING_KIDS = 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def public_jwk(private_key: rsa.RSAPrivateKey) -> dict[str, str]:
    """The public half as a JWK, with its RFC 7638 thumbprint as ``kid``."""
    numbers = private_key.public_key().public_numbers()
    members = {"e": _int_b64(numbers.e), "kty": "RSA", "n": _int_b64(numbers.n)}
    thumbprint = hashlib.sha256(
        json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    ).digest()
    return {**members, "kid": _b64(thumbprint), "alg": "RS256", "use": "sig"}


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the signing key must be an RSA private key")
    return key


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)


def to_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass(frozen=True, slots=True)
class LoadedKey:
    """One usable key."""

    kid: str
    private_key: rsa.RSAPrivateKey
    jwk: dict[str, str]
    created_at: datetime
    retired_at: datetime | None
    expires_at: datetime | None


def signing_key_purpose(kid: str) -> str:
    return f"signing-key:{kid}"


def stored_pem(envelope: Envelope | None, row: SigningKey) -> str:
    """The row's private key as PEM, opening it when sealed (plain PEM is from before sealing
    and is sealed by `orin keys rotate`)."""
    if row.private_pem.startswith(ENVELOPE_PREFIX + "."):
        if envelope is None:
            raise RuntimeError("the signing key is sealed but no envelope was given")
        return envelope.open(row.private_pem, purpose=signing_key_purpose(row.kid)).decode()
    return row.private_pem


class KeyRing:
    """Signing and verification keys of this process, loaded from the database."""

    def __init__(
        self, database: Database, settings: AuthSettings, envelope: Envelope | None = None
    ) -> None:
        self.database = database
        self.settings = settings
        self.envelope = envelope
        """Seals private keys at rest; without one they are stored as plain PEM."""
        self._keys: dict[str, LoadedKey] = {}
        self._signer: LoadedKey | None = None
        self._lock = asyncio.Lock()
        self._loaded_at = 0.0
        self._missing: dict[str, float] = {}

    async def start(self) -> None:
        """Load keys; create the first one when there is none (or import the configured PEM)."""
        configured = self.settings.signing_key_pem.get_secret_value()
        if configured:
            await self._ensure_stored(load_private_key(configured))
        await self.reload()
        if self._signer is None:
            await self._ensure_stored(await asyncio.to_thread(generate_private_key))
            await self.reload()

    async def _ensure_stored(self, key: rsa.RSAPrivateKey) -> str:
        kid = public_jwk(key)["kid"]
        async with self.database.transaction() as session:
            if await session.get(SigningKey, kid) is None:
                stored = self._stored_form(kid, key)
                session.add(SigningKey(kid=kid, private_pem=stored, created_at=utcnow()))
                logger.info("auth.signing_key_created", kid=kid)
        return kid

    async def reload(self) -> None:
        """Read every key that still verifies; the newest unretired one signs."""
        now = utcnow()
        async with self.database.transaction() as session:
            rows = list(await session.scalars(select(SigningKey).order_by(SigningKey.created_at)))
        keys: dict[str, LoadedKey] = {}
        for row in rows:
            if row.expires_at is not None and row.expires_at <= now:
                continue
            known = self._keys.get(row.kid)
            if known is not None:
                # Already parsed: only its retirement may have changed.
                private_key, jwk = known.private_key, known.jwk
            else:
                pem = self._readable_pem(row)
                if pem is None:
                    continue
                # Parsing checks the RSA key (milliseconds of CPU): keep it off the event loop.
                private_key = await asyncio.to_thread(load_private_key, pem)
                jwk = public_jwk(private_key)
            keys[row.kid] = LoadedKey(
                kid=row.kid,
                private_key=private_key,
                jwk=jwk,
                created_at=row.created_at,
                retired_at=row.retired_at,
                expires_at=row.expires_at,
            )
        signers = [key for key in keys.values() if key.retired_at is None]
        self._keys = keys
        self._signer = max(signers, key=lambda key: key.created_at) if signers else None
        self._loaded_at = asyncio.get_running_loop().time()
        self._missing.clear()

    def _stored_form(self, kid: str, key: rsa.RSAPrivateKey) -> str:
        pem = to_pem(key)
        if self.envelope is None:
            return pem
        return self.envelope.seal(pem.encode(), purpose=signing_key_purpose(kid))

    def _readable_pem(self, row: SigningKey) -> str | None:
        """The key's PEM, or None when it is sealed under a key this process does not have
        (it is then left out: a new signer is made if none is readable, and tokens signed
        with the unreadable key fail to verify, so their holders sign in again)."""
        try:
            return stored_pem(self.envelope, row)
        except (SealError, RuntimeError) as exc:
            logger.error("auth.signing_key_unreadable", kid=row.kid, error=str(exc))
            return None

    @property
    def signer(self) -> LoadedKey:
        if self._signer is None:
            raise RuntimeError("KeyRing.start() has not run")
        return self._signer

    async def verification_key(self, kid: str) -> LoadedKey | None:
        """The key with ``kid``. An unknown kid is looked up in the database once (another
        replica may have rotated); kids found missing are remembered for a while, so forged
        tokens cannot make every request query the database."""
        key = self._keys.get(kid)
        if key is not None:
            return key
        now = asyncio.get_running_loop().time()
        missing_since = self._missing.get(kid)
        if missing_since is not None and now - missing_since < MISSING_KID_TTL_S:
            return None
        async with self.database.transaction() as session:
            row = await session.get(SigningKey, kid)
        if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
            if len(self._missing) >= MAX_MISSING_KIDS:
                self._missing.clear()
            self._missing[kid] = now
            return None
        pem = self._readable_pem(row)
        if pem is None:
            return None
        private_key = await asyncio.to_thread(load_private_key, pem)
        key = LoadedKey(
            kid=row.kid,
            private_key=private_key,
            jwk=public_jwk(private_key),
            created_at=row.created_at,
            retired_at=row.retired_at,
            expires_at=row.expires_at,
        )
        self._keys[kid] = key
        return key

    async def refresh_if_stale(self) -> None:
        """Reload when the keys were read more than `RELOAD_EVERY_S` ago, so a rotation made
        elsewhere reaches this replica's signer and JWKS."""
        if asyncio.get_running_loop().time() - self._loaded_at >= RELOAD_EVERY_S:
            async with self._lock:
                if asyncio.get_running_loop().time() - self._loaded_at >= RELOAD_EVERY_S:
                    await self.reload()

    def jwks(self) -> dict[str, Any]:
        """The public keys that may verify a live token, as a JWK Set."""
        return {"keys": [key.jwk for key in self._keys.values()]}

    async def rotate(self) -> str:
        """Make a new key the signer; the old ones verify until their tokens expire."""
        new = await asyncio.to_thread(generate_private_key)
        now = utcnow()
        async with self.database.transaction() as session:
            for row in await session.scalars(
                select(SigningKey).where(SigningKey.retired_at.is_(None))
            ):
                row.retired_at = now
                row.expires_at = now + timedelta(seconds=self.settings.access_token_ttl_s + 60)
            kid = public_jwk(new)["kid"]
            stored = self._stored_form(kid, new)
            session.add(SigningKey(kid=kid, private_pem=stored, created_at=now))
        await self.reload()
        logger.info("auth.signing_key_rotated", kid=kid)
        return kid
