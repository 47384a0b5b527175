"""Secrets at rest (TOTP seeds, mailed tokens): AES-256-GCM under a key derived from the secret key.

Each value is sealed with a fresh 96-bit nonce; the stored form is ``v1.<key id>.<base64>`` so
a later key rotation can tell which key sealed a value. The purpose label is bound as associated
data, so a value sealed for one purpose cannot be opened as another.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed value could not be opened: altered, wrong purpose, or another key."""


class Sealer:
    """Seals and opens short secrets with AES-256-GCM."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("sealing needs a non-empty secret key")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"orin:seal:v1").derive(
            secret
        )
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).hexdigest()[:8]

    def seal(self, plaintext: bytes, *, purpose: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, purpose.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{VERSION}.{self.key_id}.{body}"

    def open(self, value: str, *, purpose: str) -> bytes:
        try:
            version, key_id, body = value.split(".", 2)
        except ValueError:
            raise SealError("not a sealed value") from None
        if version != VERSION or key_id != self.key_id:
            raise SealError("sealed with another key or format")
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
        try:
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode())
        except InvalidTag:
            raise SealError("the sealed value was altered or is for another purpose") from None
