"""Envelope encryption for secrets at rest (camera credentials): AES-256-GCM, rotatable keys.

Every value gets its own random 256-bit data key. The value is encrypted with the data key; the
data key is encrypted ("wrapped") with a key-encryption key (KEK) from settings
(``ORIN_CRYPTO_KEYS``, ``ORIN_CRYPTO_ACTIVE_KEY``). Rotating a KEK re-wraps the small data keys
only (`Envelope.rewrap`); the encrypted values themselves never change. The stored form is::

    env1.<kek id>.<base64 wrapped data key>.<base64 nonce + ciphertext>

The purpose label (e.g. ``camera-credentials:<camera id>``) is bound as associated data to both
layers, so a value cannot be moved to another row or opened for another purpose.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from orin.config import CryptoSettings
from orin.kit.crypto import SealError

PREFIX = "env1"
NONCE_BYTES = 12
KEY_BYTES = 32


class KeyConfigError(ValueError):
    """The configured key-encryption keys are unusable."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class KeyEncryptionKeys:
    """The KEKs this deployment knows, by id, and the one that wraps new data keys."""

    keys: Mapping[str, bytes]
    active_id: str

    def __post_init__(self) -> None:
        if self.active_id not in self.keys:
            raise KeyConfigError(f"the active key {self.active_id!r} is not among the keys")
        for key_id, key in self.keys.items():
            if not key_id or "." in key_id or len(key_id) > 64:
                raise KeyConfigError(f"key id {key_id!r}: 1-64 characters without dots")
            if len(key) != KEY_BYTES:
                raise KeyConfigError(f"key {key_id!r} must be {KEY_BYTES} bytes (base64)")

    @classmethod
    def from_settings(cls, crypto: CryptoSettings, secret: bytes) -> KeyEncryptionKeys:
        """Configured keys; with none configured, one key derived from the secret key."""
        if not crypto.keys:
            derived = HKDF(
                algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"orin:kek:v1"
            ).derive(secret)
            key_id = "local-" + hashlib.sha256(derived).hexdigest()[:8]
            return cls({key_id: derived}, key_id)
        keys: dict[str, bytes] = {}
        for key_id, text in crypto.keys.items():
            try:
                keys[key_id] = base64.b64decode(text.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise KeyConfigError(f"key {key_id!r} is not valid base64") from None
        active = crypto.active_key or next(iter(keys))
        return cls(keys, active)


class Envelope:
    """Seals values under fresh data keys wrapped by the active KEK; opens any known KEK's."""

    def __init__(self, keks: KeyEncryptionKeys) -> None:
        self._keks = {key_id: AESGCM(key) for key_id, key in keks.keys.items()}
        self.active_id = keks.active_id

    def seal(self, plaintext: bytes, *, purpose: str) -> str:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        body = nonce + AESGCM(data_key).encrypt(nonce, plaintext, purpose.encode())
        return f"{PREFIX}.{self.active_id}.{self._wrap(data_key, purpose)}.{_b64(body)}"

    def open(self, value: str, *, purpose: str) -> bytes:
        key_id, wrapped, body = self._split(value)
        data_key = self._unwrap(key_id, wrapped, purpose)
        raw = _unb64(body)
        try:
            return AESGCM(data_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode())
        except InvalidTag:
            raise SealError("the sealed value was altered or is for another purpose") from None

    def key_id_of(self, value: str) -> str:
        """Which KEK wraps this value's data key."""
        return self._split(value)[0]

    def needs_rewrap(self, value: str) -> bool:
        return self.key_id_of(value) != self.active_id

    def rewrap(self, value: str, *, purpose: str) -> str:
        """The same ciphertext with its data key wrapped by the active KEK."""
        key_id, wrapped, body = self._split(value)
        data_key = self._unwrap(key_id, wrapped, purpose)
        return f"{PREFIX}.{self.active_id}.{self._wrap(data_key, purpose)}.{body}"

    def _wrap(self, data_key: bytes, purpose: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        aad = f"{self.active_id}|{purpose}".encode()
        return _b64(nonce + self._keks[self.active_id].encrypt(nonce, data_key, aad))

    def _unwrap(self, key_id: str, wrapped: str, purpose: str) -> bytes:
        kek = self._keks.get(key_id)
        if kek is None:
            raise SealError(f"sealed under key {key_id!r}, which is not configured")
        raw = _unb64(wrapped)
        try:
            return kek.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], f"{key_id}|{purpose}".encode())
        except InvalidTag:
            raise SealError("the data key was altered or is for another purpose") from None

    @staticmethod
    def _split(value: str) -> tuple[str, str, str]:
        parts = value.split(".")
        if len(parts) != 4 or parts[0] != PREFIX:
            raise SealError("not an envelope-sealed value")
        return parts[1], parts[2], parts[3]
