"""Tokens with a chosen lifetime, and people with a space and camera, for realtime tests."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from orin.auth.tokens import ALGORITHM
from tests.fixtures.api import Api, Person


def token_expiring_in(api: Api, person: Person, seconds: float) -> str:
    """An access token of ``person``'s session that expires ``seconds`` from now (negative:
    already expired)."""
    keyring = api.runtime.keyring
    assert keyring is not None
    claims: dict[str, Any] = jwt.decode(person.access_token, options={"verify_signature": False})
    now = int(time.time())
    claims.update(iat=now - 120, nbf=now - 120, exp=int(now + seconds), jti=uuid.uuid4().hex)
    signer = keyring.signer
    return jwt.encode(claims, signer.private_key, algorithm=ALGORITHM, headers={"kid": signer.kid})
