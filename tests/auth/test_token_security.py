"""Forged, expired and misdirected tokens are refused; CSRF and rate limits hold."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from orin.auth.keys import KeyRing, generate_private_key, public_jwk
from orin.auth.tokens import issue_access_token
from orin.config import Settings
from orin.db import Database
from tests.auth.conftest import SignedUp, sign_up


@pytest.fixture
async def keyring(auth_settings: Settings, client: httpx.AsyncClient) -> AsyncIterator[KeyRing]:
    """The app's own signing key, loaded from the same database (the app created it)."""
    database = Database(auth_settings)
    ring = KeyRing(database, auth_settings.auth)
    await ring.start()
    yield ring
    await database.dispose()


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_for(user: SignedUp, settings: Settings, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": settings.auth.issuer,
        "aud": settings.auth.audience,
        "sub": user.user_id,
        "sid": user.session_id,
        "role": "user",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "t1",
    }
    claims.update(changes)
    return claims


async def status_with(client: httpx.AsyncClient, token: str) -> int:
    response = await client.get("/api/v1/user/me", headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 401:
        assert response.headers["content-type"] == "application/problem+json"
    return response.status_code


async def test_a_genuine_token_works(
    client: httpx.AsyncClient, keyring: KeyRing, auth_settings: Settings
) -> None:
    user = await sign_up(client)
    token, _ = issue_access_token(
        keyring, auth_settings.auth, user_id=user.user_id, session_id=user.session_id, role="user"
    )
    assert await status_with(client, token) == 200


async def test_alg_none_is_refused(client: httpx.AsyncClient, auth_settings: Settings) -> None:
    user = await sign_up(client)
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims_for(user, auth_settings))}."
    assert await status_with(client, token) == 401


async def test_hs256_signed_with_the_public_key_is_refused(
    client: httpx.AsyncClient, keyring: KeyRing, auth_settings: Settings
) -> None:
    user = await sign_up(client)
    public_pem = keyring.signer.private_key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": keyring.signer.kid}
    signing_input = f"{b64(header)}.{b64(claims_for(user, auth_settings))}"
    signature = (
        base64.urlsafe_b64encode(
            hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        )
        .rstrip(b"=")
        .decode()
    )
    assert await status_with(client, f"{signing_input}.{signature}") == 401


async def test_another_key_with_our_kid_is_refused(
    client: httpx.AsyncClient, keyring: KeyRing, auth_settings: Settings
) -> None:
    user = await sign_up(client)
    forged = jwt.encode(
        claims_for(user, auth_settings),
        generate_private_key(),
        algorithm="RS256",
        headers={"kid": keyring.signer.kid},
    )
    assert await status_with(client, forged) == 401


async def test_an_unknown_kid_is_refused(
    client: httpx.AsyncClient, auth_settings: Settings
) -> None:
    user = await sign_up(client)
    key = generate_private_key()
    forged = jwt.encode(
        claims_for(user, auth_settings),
        key,
        algorithm="RS256",
        headers={"kid": public_jwk(key)["kid"]},
    )
    assert await status_with(client, forged) == 401


@pytest.mark.parametrize(
    "change",
    [
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"aud": "someone-else"},
        {"iss": "evil"},
    ],
    ids=["expired", "wrong-audience", "wrong-issuer"],
)
async def test_expired_or_misdirected_tokens_are_refused(
    client: httpx.AsyncClient, keyring: KeyRing, auth_settings: Settings, change: dict[str, Any]
) -> None:
    user = await sign_up(client)
    token = jwt.encode(
        claims_for(user, auth_settings, **change),
        keyring.signer.private_key,
        algorithm="RS256",
        headers={"kid": keyring.signer.kid},
    )
    assert await status_with(client, token) == 401


async def test_a_tampered_payload_is_refused(
    client: httpx.AsyncClient, auth_settings: Settings
) -> None:
    alice = await sign_up(client)
    bob = await sign_up(client)
    header, _, signature = alice.access_token.split(".")
    payload = b64(claims_for(alice, auth_settings, sub=bob.user_id))
    assert await status_with(client, f"{header}.{payload}.{signature}") == 401


async def test_missing_or_garbage_authorization_is_refused(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/user/me")).status_code == 401
    assert await status_with(client, "not.a.jwt") == 401
    assert await status_with(client, "x" * 5000) == 401


async def test_after_rotation_old_and_new_keys_both_verify(
    client: httpx.AsyncClient, keyring: KeyRing, auth_settings: Settings
) -> None:
    """Another process rotates the key: this replica still accepts tokens of the old key and
    learns the new key from the database the first time a token names it."""
    user = await sign_up(client)
    old_kid = keyring.signer.kid
    new_kid = await keyring.rotate()
    assert new_kid != old_kid
    assert await status_with(client, user.access_token) == 200
    token, _ = issue_access_token(
        keyring, auth_settings.auth, user_id=user.user_id, session_id=user.session_id, role="user"
    )
    assert jwt.get_unverified_header(token)["kid"] == new_kid
    assert await status_with(client, token) == 200
    assert {old_kid, new_kid} <= {key["kid"] for key in keyring.jwks()["keys"]}


async def test_cookie_refresh_needs_the_csrf_header(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    login = await client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": user.password, "use_cookie": True},
    )
    assert login.status_code == 200
    assert login.json()["refresh_token"] is None
    csrf = login.json()["csrf_token"]
    assert client.cookies.get("orin_csrf") == csrf
    refused = await client.post("/api/v1/auth/refresh")
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/csrf")
    wrong = await client.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    ok = await client.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200, ok.text
    assert ok.json()["csrf_token"] != csrf


async def test_refresh_cookie_is_httponly_secure_and_scoped(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    login = await client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": user.password, "use_cookie": True},
    )
    cookies = login.headers.get_list("set-cookie")
    refresh = next(c for c in cookies if c.startswith("orin_refresh="))
    assert "HttpOnly" in refresh
    assert "Secure" in refresh
    assert "SameSite=strict" in refresh
    assert "Path=/api/v1/auth" in refresh
