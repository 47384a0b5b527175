"""Access tokens: short-lived RS256 JWTs naming the user and the session they belong to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from orin.auth.keys import KeyRing
from orin.config import AuthSettings
from orin.errors import Unauthorized
from orin.models.base import utcnow

ALGORITHM = "RS256"
LEEWAY_S = 10


class InvalidToken(Unauthorized):
    type_slug = "invalid-token"
    title = "Invalid access token"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: str
    session_id: str
    role: str
    expires_at: datetime
    token_id: str


def issue_access_token(
    keyring: KeyRing, settings: AuthSettings, *, user_id: str, session_id: str, role: str
) -> tuple[str, datetime]:
    """A signed access token and its expiry."""
    now = utcnow()
    expires_at = now + timedelta(seconds=settings.access_token_ttl_s)
    signer = keyring.signer
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": user_id,
        "sid": session_id,
        "role": role,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, signer.private_key, algorithm=ALGORITHM, headers={"kid": signer.kid})
    return token, expires_at


async def verify_access_token(keyring: KeyRing, settings: AuthSettings, token: str) -> AccessClaims:
    """Check signature (RS256 only, key by ``kid``), expiry, issuer and audience.

    Raises `InvalidToken` saying what is wrong, without echoing the token.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("the access token is malformed") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"tokens must be signed with {ALGORITHM}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("the access token names no signing key (kid)")
    key = await keyring.verification_key(kid)
    if key is None:
        raise InvalidToken("the access token was signed by an unknown key")
    try:
        claims = jwt.decode(
            token,
            key.private_key.public_key(),
            algorithms=[ALGORITHM],
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "sub", "sid", "iss", "aud", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the access token has expired; refresh it") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("the access token is for another audience") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("the access token was issued by someone else") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("the access token's signature does not match") from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"the access token is invalid: {exc}") from None
    return AccessClaims(
        user_id=str(claims["sub"]),
        session_id=str(claims["sid"]),
        role=str(claims.get("role", "user")),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=utcnow().tzinfo),
        token_id=str(claims["jti"]),
    )
