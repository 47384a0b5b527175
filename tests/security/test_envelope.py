"""Envelope encryption: sealed values open only for their purpose, rotate by re-wrapping."""

from __future__ import annotations

import base64
import os

import pytest

from orin.config import CryptoSettings
from orin.kit.crypto import SealError
from orin.kit.envelope import Envelope, KeyConfigError, KeyEncryptionKeys


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_a_value_opens_only_for_its_purpose_and_is_not_readable() -> None:
    envelope = Envelope(KeyEncryptionKeys.from_settings(CryptoSettings(), b"secret"))
    sealed = envelope.seal(b"hunter2", purpose="camera-credentials:c1")
    assert b"hunter2" not in sealed.encode()
    assert envelope.open(sealed, purpose="camera-credentials:c1") == b"hunter2"
    with pytest.raises(SealError):
        envelope.open(sealed, purpose="camera-credentials:c2")
    # Two seals of one value differ (fresh data key and nonces).
    assert envelope.seal(b"hunter2", purpose="p") != envelope.seal(b"hunter2", purpose="p")


def test_tampering_is_detected() -> None:
    envelope = Envelope(KeyEncryptionKeys.from_settings(CryptoSettings(), b"secret"))
    sealed = envelope.seal(b"value", purpose="p")
    prefix, kek, wrapped, body = sealed.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(SealError):
        envelope.open(".".join([prefix, kek, wrapped, flipped]), purpose="p")
    with pytest.raises(SealError):
        envelope.open("not-sealed", purpose="p")


def test_rotation_rewraps_the_data_key_only() -> None:
    k1, k2 = key(), key()
    old = Envelope(KeyEncryptionKeys.from_settings(CryptoSettings(keys={"k1": k1}), b""))
    both = Envelope(
        KeyEncryptionKeys.from_settings(
            CryptoSettings(keys={"k1": k1, "k2": k2}, active_key="k2"), b""
        )
    )
    new_only = Envelope(KeyEncryptionKeys.from_settings(CryptoSettings(keys={"k2": k2}), b""))
    sealed = old.seal(b"value", purpose="p")
    assert both.needs_rewrap(sealed)
    rewrapped = both.rewrap(sealed, purpose="p")
    assert rewrapped.split(".")[1] == "k2"
    assert rewrapped.split(".")[3] == sealed.split(".")[3]
    assert new_only.open(rewrapped, purpose="p") == b"value"
    assert not new_only.needs_rewrap(rewrapped)
    with pytest.raises(SealError, match="not configured"):
        new_only.open(sealed, purpose="p")


@pytest.mark.parametrize(
    "crypto",
    [
        CryptoSettings(keys={"k1": "not base64!"}),
        CryptoSettings(keys={"k1": base64.b64encode(b"short").decode()}),
        CryptoSettings(keys={"k.1": base64.b64encode(os.urandom(32)).decode()}),
        CryptoSettings(keys={"k1": base64.b64encode(os.urandom(32)).decode()}, active_key="k9"),
    ],
)
def test_bad_key_settings_are_refused(crypto: CryptoSettings) -> None:
    with pytest.raises(KeyConfigError):
        KeyEncryptionKeys.from_settings(crypto, b"")
