"""Two-step sign-in with TOTP and recovery codes, through HTTP on both adapter sets.

Codes are computed with pyotp from the secret the API hands out, at the time of a fake clock
the service reads, so a test can move to the next 30-second step without waiting for it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select
from starlette.types import ASGIApp

from orin.app import create_app
from orin.auth.mfa import TOTP_INTERVAL_S, mfa_service, recovery_code_hash
from orin.config import Settings
from orin.db import Database
from orin.models.mfa_recovery_code import MfaRecoveryCode
from orin.models.user import User
from tests.auth.conftest import SignedUp, sign_up

MFA = "/api/v1/auth/mfa"
RECOVERY_CODE_SHAPE = re.compile(
    r"^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$"
)


# --- fixtures --------------------------------------------------------------------------------


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app and a client."""
    app = create_app(settings, configure_logs=False)
    async with LifespanManager(app) as manager:
        asgi: ASGIApp = manager.app
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="https://orin.test") as http:
            yield http


@pytest.fixture
async def client(auth_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(auth_settings) as http:
        yield http


@dataclass
class FakeClock:
    """Unix time as the MFA service sees it; starts a few seconds into a real time step."""

    now: float

    def __call__(self) -> float:
        return self.now

    def next_step(self) -> None:
        self.now += TOTP_INTERVAL_S


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    start = (int(time.time()) // TOTP_INTERVAL_S) * TOTP_INTERVAL_S + 5
    fake = FakeClock(now=float(start))
    monkeypatch.setattr(mfa_service, "clock", fake)
    return fake


@dataclass
class MfaUser:
    account: SignedUp
    secret: str
    recovery_codes: list[str] = field(default_factory=list)

    def code(self, clock: FakeClock) -> str:
        return pyotp.TOTP(self.secret).at(clock.now)


async def enrol(client: httpx.AsyncClient, user: SignedUp) -> str:
    response = await client.post(
        f"{MFA}/enrol", json={"password": user.password}, headers=user.auth
    )
    assert response.status_code == 200, response.text
    return str(response.json()["secret"])


async def mfa_user(client: httpx.AsyncClient, clock: FakeClock) -> MfaUser:
    """A signed-up user with two-step sign-in on; the clock moves past the code used."""
    account = await sign_up(client)
    secret = await enrol(client, account)
    confirmed = await client.post(
        f"{MFA}/confirm", json={"code": pyotp.TOTP(secret).at(clock.now)}, headers=account.auth
    )
    assert confirmed.status_code == 200, confirmed.text
    clock.next_step()
    return MfaUser(account, secret, confirmed.json()["recovery_codes"])


async def login(client: httpx.AsyncClient, user: SignedUp) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def challenge(client: httpx.AsyncClient, user: SignedUp) -> str:
    body = await login(client, user)
    assert body["mfa_required"] is True
    return str(body["challenge_token"])


async def verify(client: httpx.AsyncClient, token: str, **factor: str) -> httpx.Response:
    return await client.post(f"{MFA}/verify", json={"challenge_token": token, **factor})


async def stored(settings: Settings, user_id: str) -> tuple[User, list[MfaRecoveryCode]]:
    """The user's row and recovery codes, read straight from the database."""
    database = Database(settings)
    try:
        async with database.sessionmaker() as session:
            user = await session.get(User, user_id)
            assert user is not None
            codes = await session.scalars(
                select(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id)
            )
            return user, list(codes)
    finally:
        await database.dispose()


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return str(response.json()["type"]).rsplit("/", 1)[-1]


# --- enrolment -------------------------------------------------------------------------------


async def test_enrol_confirm_then_login_needs_a_code_that_signs_in(
    client: httpx.AsyncClient, clock: FakeClock, auth_settings: Settings
) -> None:
    account = await sign_up(client)
    enrolled = await client.post(
        f"{MFA}/enrol", json={"password": account.password}, headers=account.auth
    )
    assert enrolled.status_code == 200, enrolled.text
    assert enrolled.headers["cache-control"] == "no-store"
    secret = enrolled.json()["secret"]
    uri = urlparse(enrolled.json()["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert parse_qs(uri.query)["secret"] == [secret]
    assert parse_qs(uri.query)["issuer"] == [auth_settings.mfa.issuer]
    assert account.email in uri.path.replace("%40", "@")
    pending = (await client.get(MFA, headers=account.auth)).json()
    assert pending["enabled"] is False
    assert pending["pending_enrolment"] is True
    # Not in force before confirmation: the password alone still signs in.
    assert "access_token" in await login(client, account)

    confirmed = await client.post(
        f"{MFA}/confirm", json={"code": pyotp.TOTP(secret).at(clock.now)}, headers=account.auth
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == auth_settings.mfa.recovery_codes == 10
    assert len(set(codes)) == len(codes)
    assert all(RECOVERY_CODE_SHAPE.match(code) for code in codes), codes
    state = (await client.get(MFA, headers=account.auth)).json()
    assert state["enabled"] is True
    assert state["recovery_codes_remaining"] == 10

    answer = await login(client, account)
    assert answer["mfa_required"] is True
    assert "access_token" not in answer
    assert answer["expires_in"] == auth_settings.mfa.challenge_ttl_s

    clock.next_step()
    signed_in = await verify(
        client, answer["challenge_token"], code=pyotp.TOTP(secret).at(clock.now)
    )
    assert signed_in.status_code == 200, signed_in.text
    body = signed_in.json()
    assert body["user"]["id"] == account.user_id
    assert body["recovery_codes_remaining"] is None
    me = await client.get(
        "/api/v1/user/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    renewed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}
    )
    assert renewed.status_code == 200


async def test_verify_can_put_the_refresh_token_in_a_cookie(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    user = await mfa_user(client, clock)
    token = await challenge(client, user.account)
    response = await client.post(
        f"{MFA}/verify",
        json={"challenge_token": token, "code": user.code(clock), "use_cookie": True},
    )
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"] is None
    assert response.json()["csrf_token"]
    assert "httponly" in response.headers["set-cookie"].lower()


async def test_enrol_needs_the_current_password(
    client: httpx.AsyncClient, auth_settings: Settings
) -> None:
    account = await sign_up(client)
    missing = await client.post(f"{MFA}/enrol", json={}, headers=account.auth)
    assert missing.status_code == 422
    wrong = await client.post(
        f"{MFA}/enrol", json={"password": "not-the-Password-1"}, headers=account.auth
    )
    assert wrong.status_code == 403
    assert problem_type(wrong) == "second-factor-refused"
    assert "password" in wrong.json()["detail"]
    no_token = await client.post(f"{MFA}/enrol", json={"password": account.password})
    assert no_token.status_code == 401
    row, _ = await stored(auth_settings, account.user_id)
    assert row.totp_secret_sealed is None


async def test_enrolling_again_once_on_is_a_conflict(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    user = await mfa_user(client, clock)
    again = await client.post(
        f"{MFA}/enrol", json={"password": user.account.password}, headers=user.account.auth
    )
    assert again.status_code == 409
    assert problem_type(again) == "mfa-state-conflict"


async def test_confirm_with_a_wrong_code_leaves_mfa_off(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    account = await sign_up(client)
    secret = await enrol(client, account)
    wrong_code = f"{(int(pyotp.TOTP(secret).at(clock.now)) + 1) % 1_000_000:06d}"
    refused = await client.post(f"{MFA}/confirm", json={"code": wrong_code}, headers=account.auth)
    assert refused.status_code == 403
    assert (await client.get(MFA, headers=account.auth)).json()["enabled"] is False
    assert "access_token" in await login(client, account)


async def test_the_secret_and_recovery_codes_are_not_stored_in_the_clear(
    client: httpx.AsyncClient, clock: FakeClock, auth_settings: Settings
) -> None:
    user = await mfa_user(client, clock)
    row, codes = await stored(auth_settings, user.account.user_id)
    assert row.mfa_enabled_at is not None
    assert row.totp_secret_sealed is not None
    assert row.totp_secret_sealed.startswith("v1.")
    assert user.secret not in row.totp_secret_sealed
    assert user.secret.lower() not in row.totp_secret_sealed.lower()
    assert len(codes) == 10
    hashes = {code.code_hash for code in codes}
    assert hashes == {recovery_code_hash(row.id, code) for code in user.recovery_codes}
    for code in user.recovery_codes:
        assert all(code.replace("-", "") not in stored_hash for stored_hash in hashes)


# --- the sign-in challenge -------------------------------------------------------------------


async def test_a_wrong_code_is_a_401_and_the_right_one_still_works(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    user = await mfa_user(client, clock)
    token = await challenge(client, user.account)
    right = user.code(clock)
    wrong = await verify(client, token, code=f"{(int(right) + 1) % 1_000_000:06d}")
    assert wrong.status_code == 401
    assert problem_type(wrong) == "invalid-mfa-code"
    letters = await verify(client, token, code="abcdef")
    assert letters.status_code == 401
    assert (await verify(client, token, code=right)).status_code == 200
    # The challenge was used up by the successful answer.
    clock.next_step()
    reused = await verify(client, token, code=user.code(clock))
    assert reused.status_code == 401
    assert problem_type(reused) == "invalid-mfa-challenge"


async def test_a_code_cannot_be_replayed(client: httpx.AsyncClient, clock: FakeClock) -> None:
    user = await mfa_user(client, clock)
    code = user.code(clock)
    earlier = pyotp.TOTP(user.secret).at(clock.now, counter_offset=-1)
    assert (
        await verify(client, await challenge(client, user.account), code=code)
    ).status_code == 200

    token = await challenge(client, user.account)
    replayed = await verify(client, token, code=code)
    assert replayed.status_code == 401
    assert "already used" in replayed.json()["detail"]
    # A code of an earlier step, still inside the drift window, is refused too.
    assert (await verify(client, token, code=earlier)).status_code == 401
    clock.next_step()
    assert (await verify(client, token, code=user.code(clock))).status_code == 200


async def test_a_code_for_another_users_challenge_is_refused(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    alice = await mfa_user(client, clock)
    bob = await mfa_user(client, clock)
    alice_token = await challenge(client, alice.account)
    stolen = await verify(client, alice_token, code=bob.code(clock))
    assert stolen.status_code == 401
    assert problem_type(stolen) == "invalid-mfa-code"
    bob_recovery = await verify(client, alice_token, recovery_code=bob.recovery_codes[0])
    assert bob_recovery.status_code == 401
    signed_in = await verify(client, alice_token, code=alice.code(clock))
    assert signed_in.status_code == 200
    assert signed_in.json()["user"]["id"] == alice.account.user_id


async def test_a_challenge_expires(auth_settings: Settings, clock: FakeClock) -> None:
    # model_copy skips validation, so the TTL can go below the 30 s floor operators get.
    short = auth_settings.model_copy(
        update={"mfa": auth_settings.mfa.model_copy(update={"challenge_ttl_s": 1})}
    )
    async with running_app(short) as client:
        user = await mfa_user(client, clock)
        body = await login(client, user.account)
        assert body["expires_in"] == 1
        await asyncio.sleep(1.3)
        late = await verify(client, body["challenge_token"], code=user.code(clock))
        assert late.status_code == 401
        assert problem_type(late) == "invalid-mfa-challenge"
        assert "expired" in late.json()["detail"]


async def test_five_wrong_codes_destroy_the_challenge(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    user = await mfa_user(client, clock)
    token = await challenge(client, user.account)
    right = user.code(clock)
    wrong = f"{(int(right) + 7) % 1_000_000:06d}"
    answers = [await verify(client, token, code=wrong) for _ in range(5)]
    assert [a.status_code for a in answers] == [401] * 5
    assert [problem_type(a) for a in answers] == ["invalid-mfa-code"] * 4 + [
        "invalid-mfa-challenge"
    ]
    dead = await verify(client, token, code=right)
    assert dead.status_code == 401
    assert problem_type(dead) == "invalid-mfa-challenge"
    # Signing in again with the password gives a fresh challenge that the code opens.
    assert (
        await verify(client, await challenge(client, user.account), code=right)
    ).status_code == 200


async def test_too_many_wrong_codes_across_challenges_pause_the_account(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    user = await mfa_user(client, clock)
    wrong = f"{(int(user.code(clock)) + 3) % 1_000_000:06d}"
    for _ in range(2):
        token = await challenge(client, user.account)
        for _ in range(5):
            assert (await verify(client, token, code=wrong)).status_code == 401
    token = await challenge(client, user.account)
    paused = await verify(client, token, code=user.code(clock))
    assert paused.status_code == 429
    assert problem_type(paused) == "too-many-wrong-codes"
    assert int(paused.headers["retry-after"]) >= 60


async def test_a_recovery_code_signs_in_once(client: httpx.AsyncClient, clock: FakeClock) -> None:
    user = await mfa_user(client, clock)
    code = user.recovery_codes[3]
    # Typed sloppily: upper case, no dashes, spaces around.
    typed = f" {code.replace('-', '').upper()} "
    used = await verify(client, await challenge(client, user.account), recovery_code=typed)
    assert used.status_code == 200, used.text
    assert used.json()["recovery_codes_remaining"] == 9

    token = await challenge(client, user.account)
    again = await verify(client, token, recovery_code=code)
    assert again.status_code == 401
    assert "already used" in again.json()["detail"]
    other = await verify(client, token, recovery_code=user.recovery_codes[4])
    assert other.json()["recovery_codes_remaining"] == 8
    state = (await client.get(MFA, headers=user.account.auth)).json()
    assert state["recovery_codes_remaining"] == 8


async def test_login_response_and_routes_are_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    login_schema = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    refs = {option["$ref"].rsplit("/", 1)[-1] for option in login_schema["anyOf"]}
    assert refs == {"TokenPair", "MfaRequired"}
    operations = {
        operation["operationId"]
        for path, item in spec["paths"].items()
        if path.startswith(MFA)
        for operation in item.values()
    }
    assert operations == {
        "auth_mfa_status",
        "auth_mfa_enrol",
        "auth_mfa_confirm",
        "auth_mfa_verify",
        "auth_mfa_disable",
        "auth_mfa_regenerate_recovery_codes",
    }


# --- disabling and recovery codes ------------------------------------------------------------


async def test_disable_needs_password_and_code_then_login_no_longer_asks(
    client: httpx.AsyncClient, clock: FakeClock, auth_settings: Settings
) -> None:
    user = await mfa_user(client, clock)
    auth = user.account.auth
    right = user.code(clock)
    wrong_code = f"{(int(right) + 1) % 1_000_000:06d}"
    bad_password = await client.post(
        f"{MFA}/disable", json={"password": "wrong-Password-1", "code": right}, headers=auth
    )
    assert bad_password.status_code == 403
    assert "password" in bad_password.json()["detail"]
    bad_code = await client.post(
        f"{MFA}/disable",
        json={"password": user.account.password, "code": wrong_code},
        headers=auth,
    )
    assert bad_code.status_code == 403
    no_code = await client.post(
        f"{MFA}/disable", json={"password": user.account.password}, headers=auth
    )
    assert no_code.status_code == 422
    assert (await client.get(MFA, headers=auth)).json()["enabled"] is True

    off = await client.post(
        f"{MFA}/disable", json={"password": user.account.password, "code": right}, headers=auth
    )
    assert off.status_code == 204, off.text
    assert "access_token" in await login(client, user.account)
    row, codes = await stored(auth_settings, user.account.user_id)
    assert (row.totp_secret_sealed, row.mfa_enabled_at, codes) == (None, None, [])
    twice = await client.post(
        f"{MFA}/disable", json={"password": user.account.password, "code": right}, headers=auth
    )
    assert twice.status_code == 409


async def test_disable_with_a_recovery_code(client: httpx.AsyncClient, clock: FakeClock) -> None:
    user = await mfa_user(client, clock)
    off = await client.post(
        f"{MFA}/disable",
        json={"password": user.account.password, "recovery_code": user.recovery_codes[0]},
        headers=user.account.auth,
    )
    assert off.status_code == 204, off.text
    assert (await client.get(MFA, headers=user.account.auth)).json()["enabled"] is False


async def test_regenerating_recovery_codes_invalidates_the_old_ones(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    user = await mfa_user(client, clock)
    renewed = await client.post(
        f"{MFA}/recovery-codes", json={"code": user.code(clock)}, headers=user.account.auth
    )
    assert renewed.status_code == 200, renewed.text
    assert renewed.headers["cache-control"] == "no-store"
    fresh = renewed.json()["recovery_codes"]
    assert len(fresh) == 10
    assert not set(fresh) & set(user.recovery_codes)

    token = await challenge(client, user.account)
    old = await verify(client, token, recovery_code=user.recovery_codes[0])
    assert old.status_code == 401
    new = await verify(client, token, recovery_code=fresh[0])
    assert new.status_code == 200
    assert new.json()["recovery_codes_remaining"] == 9


async def test_regenerating_needs_a_right_code(client: httpx.AsyncClient, clock: FakeClock) -> None:
    user = await mfa_user(client, clock)
    wrong = f"{(int(user.code(clock)) + 5) % 1_000_000:06d}"
    refused = await client.post(
        f"{MFA}/recovery-codes", json={"code": wrong}, headers=user.account.auth
    )
    assert refused.status_code == 403
    still = await verify(
        client, await challenge(client, user.account), recovery_code=user.recovery_codes[0]
    )
    assert still.status_code == 200


# --- other users and bad input ---------------------------------------------------------------


async def test_another_users_token_acts_only_on_their_own_account(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    alice = await mfa_user(client, clock)
    bob = await sign_up(client)
    alice_code = alice.code(clock)
    confirm = await client.post(f"{MFA}/confirm", json={"code": alice_code}, headers=bob.auth)
    assert confirm.status_code == 409  # Bob has nothing to confirm; Alice is untouched
    disable = await client.post(
        f"{MFA}/disable",
        json={"password": alice.account.password, "code": alice_code},
        headers=bob.auth,
    )
    assert disable.status_code == 409
    regenerate = await client.post(
        f"{MFA}/recovery-codes", json={"code": alice_code}, headers=bob.auth
    )
    assert regenerate.status_code == 409
    assert (await client.get(MFA, headers=bob.auth)).json()["enabled"] is False
    mine = (await client.get(MFA, headers=alice.account.auth)).json()
    assert mine["enabled"] is True
    assert mine["recovery_codes_remaining"] == 10
    assert (await login(client, alice.account))["mfa_required"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"challenge_token": "x"},
        {"challenge_token": "x", "code": "123456", "recovery_code": "abcd-efgh-jkmn"},
        {"challenge_token": "x", "code": "1" * 17},
        {"challenge_token": "x" * 101, "code": "123456"},
        {"challenge_token": "x", "code": "123456", "admin": True},
    ],
    ids=["no-factor", "both-factors", "long-code", "long-token", "unknown-field"],
)
async def test_bad_verify_bodies_are_422_problems(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post(f"{MFA}/verify", json=body)
    assert response.status_code == 422
    assert problem_type(response) == "validation"


async def test_an_unknown_challenge_is_a_401(client: httpx.AsyncClient) -> None:
    response = await verify(client, "no-such-challenge", code="123456")
    assert response.status_code == 401
    assert problem_type(response) == "invalid-mfa-challenge"
