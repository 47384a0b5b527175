"""Password hashing, the password policy and the breached-password check (against a real server)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import httpx
import pytest
import structlog
from aiohttp import web
from asgi_lifespan import LifespanManager
from structlog.typing import EventDict

from orin.app import create_app
from orin.auth import passwords
from orin.auth.passwords import (
    PASSWORD_MAX_LENGTH,
    BreachedPasswords,
    PasswordPolicy,
    WeakPassword,
    burn_password_check,
    common_passwords,
    hash_needs_update,
    hash_password,
    parse_range_response,
    verify_password,
)
from orin.config import AuthSettings, Settings
from orin.errors import BadRequest
from orin.migrate import upgrade
from tests.fixtures.services import free_port

FAST = 4
STRONG = "Xk9#mQ2v!pL7"


def sha1_upper(password: str) -> str:
    return hashlib.sha1(password.encode()).hexdigest().upper()


def offline_policy(*, password_min_length: int = 8, password_min_score: int = 2) -> PasswordPolicy:
    """A policy that never calls the range API (only the offline list)."""
    settings = AuthSettings(
        breached_check=False,
        password_min_length=password_min_length,
        password_min_score=password_min_score,
    )
    return PasswordPolicy(settings)


async def refusal(policy: PasswordPolicy, password: str, **kwargs: list[str]) -> WeakPassword:
    with pytest.raises(WeakPassword) as caught:
        await policy.check(password, **kwargs)
    return caught.value


# --- hashing -------------------------------------------------------------------------------


async def test_hash_then_verify_round_trip() -> None:
    hashed = await hash_password("correct horse", rounds=FAST)

    assert hashed.startswith("$2b$04$")
    assert await verify_password("correct horse", hashed)
    assert not await verify_password("correct horsf", hashed)
    assert not await verify_password("", hashed)
    assert await hash_password("correct horse", rounds=FAST) != hashed  # salted


async def test_production_cost_is_twelve() -> None:
    hashed = await hash_password("correct horse", rounds=AuthSettings().bcrypt_rounds)

    assert hashed.startswith("$2b$12$")
    assert await verify_password("correct horse", hashed)


async def test_passwords_longer_than_72_bytes_are_not_truncated() -> None:
    common = "x" * 100
    hashed = await hash_password(common + "a", rounds=FAST)

    assert await verify_password(common + "a", hashed)
    assert not await verify_password(common + "b", hashed)
    assert not await verify_password(common, hashed)


async def test_nul_bytes_do_not_end_the_password() -> None:
    hashed = await hash_password("abc\x00def", rounds=FAST)

    assert await verify_password("abc\x00def", hashed)
    assert not await verify_password("abc\x00xyz", hashed)
    assert not await verify_password("abc", hashed)


@pytest.mark.parametrize(
    "hashed",
    [
        "",
        "not-a-hash",
        "$2b$12$short",
        "$2b$99$" + "a" * 53,
        "$2b$12$" + "!" * 53,
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "$2b$04$" + "é" * 53,
    ],
)
async def test_malformed_hash_does_not_verify(hashed: str) -> None:
    assert await verify_password("anything", hashed) is False


@pytest.mark.parametrize(
    "password", ["🦊🌲🔥 fox in the forest", "пароль-Пароль-42", "日本語のパスワード", "Ωmega∑"]
)
async def test_unicode_passwords_round_trip(password: str) -> None:
    hashed = await hash_password(password, rounds=FAST)

    assert await verify_password(password, hashed)
    assert not await verify_password(password + "!", hashed)


async def test_composed_and_decomposed_forms_are_the_same_password() -> None:
    composed, decomposed = "caf\u00e9-Crème-7", "cafe\u0301-Cre\u0300me-7"
    assert composed != decomposed
    hashed = await hash_password(composed, rounds=FAST)

    assert await verify_password(decomposed, hashed)
    assert not await verify_password("cafe-Creme-7", hashed)


async def test_different_emoji_are_different_passwords() -> None:
    hashed = await hash_password("🦊🦊🦊🦊🦊🦊🦊🦊", rounds=FAST)

    assert not await verify_password("🐺🐺🐺🐺🐺🐺🐺🐺", hashed)


async def test_hash_needs_update_when_the_cost_changes() -> None:
    hashed = await hash_password("correct horse", rounds=FAST)

    assert not hash_needs_update(hashed, rounds=FAST)
    assert hash_needs_update(hashed, rounds=12)
    assert hash_needs_update("$2a$04$" + hashed[7:], rounds=FAST)
    assert hash_needs_update("garbage", rounds=FAST)


def test_the_precomputed_dummy_hash_is_a_real_cost_12_hash() -> None:
    dummy = passwords._dummy_hash(12)

    assert dummy.startswith(b"$2b$12$")
    assert bcrypt.checkpw(passwords._DUMMY_PASSWORD, dummy)


@pytest.mark.parametrize("rounds", [FAST, 12])
async def test_burn_password_check_runs_bcrypt_at_the_given_cost(
    monkeypatch: pytest.MonkeyPatch, rounds: int
) -> None:
    seen: list[bytes] = []
    real_checkpw = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        seen.append(hashed)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", spy)

    await burn_password_check("whatever the attacker typed", rounds=rounds)

    assert len(seen) == 1
    assert seen[0].startswith(b"$2b$%02d$" % rounds)


# --- policy --------------------------------------------------------------------------------


async def test_a_strong_password_is_accepted() -> None:
    await offline_policy().check(STRONG, user_inputs=["alice@example.com", "Alice"])


async def test_a_long_lowercase_passphrase_needs_no_mix_of_classes() -> None:
    await offline_policy().check("zebrakettlewindowlamp")


async def test_too_short_is_refused_with_the_length() -> None:
    error = await refusal(offline_policy(), "gT7#pq")

    assert "too_short" in error.reason_codes
    assert "at least 8 characters (this one has 6)" in error.message


async def test_the_minimum_length_comes_from_the_settings() -> None:
    error = await refusal(offline_policy(password_min_length=20), STRONG)

    assert error.reason_codes == ["too_short"]
    assert "at least 20 characters" in error.message


async def test_length_counts_code_points_after_nfkc() -> None:
    # "e" + combining acute composes to one code point: 3 + 4 = 7 after NFKC (10 before).
    error = await refusal(offline_policy(), "e\u0301" * 3 + "Zq7!")
    assert error.reason_codes[:1] == ["too_short"]
    assert "this one has 7" in error.message


async def test_too_long_is_refused() -> None:
    error = await refusal(offline_policy(), "Aa1!" * (PASSWORD_MAX_LENGTH // 4) + "x")

    assert error.reason_codes == ["too_long"]


async def test_a_single_character_class_below_passphrase_length_is_refused() -> None:
    error = await refusal(offline_policy(password_min_score=0), "kqzvtwmxbrp")

    assert error.reason_codes == ["not_complex"]
    assert "passphrase of 16 characters" in error.message


async def test_zxcvbn_weak_password_is_refused_with_its_feedback() -> None:
    # Three classes and not on the common list, but a word plus a year.
    error = await refusal(offline_policy(), "Mustang1968")

    assert error.reason_codes == ["easy_to_guess"]
    assert error.extra["suggestions"]
    assert "too easy to guess" in error.message


async def test_password1_is_refused_as_easy_and_common() -> None:
    error = await refusal(offline_policy(), "Password1!")

    assert set(error.reason_codes) == {"easy_to_guess", "common"}


async def test_the_accounts_own_words_lower_the_score() -> None:
    await offline_policy().check("Wojciechowski7#")

    error = await refusal(
        offline_policy(), "Wojciechowski7#", user_inputs=["jan.wojciechowski@example.com"]
    )
    assert error.reason_codes == ["easy_to_guess"]


@pytest.mark.parametrize("password", ["p@ssw0rd", "P@SSW0RD", "Summer2024!"])
async def test_a_password_on_the_offline_list_is_refused_case_insensitively(
    password: str,
) -> None:
    error = await refusal(offline_policy(password_min_score=0), password)

    assert error.reason_codes == ["common"]
    assert "most commonly used" in error.message


async def test_every_failing_rule_is_reported_at_once() -> None:
    error = await refusal(offline_policy(), "aaaa")

    assert error.reason_codes == ["too_short", "not_complex", "easy_to_guess", "common"]
    assert error.message == " ".join(reason["message"] for reason in error.extra["reasons"])


def test_weak_password_is_a_422_problem() -> None:
    assert issubclass(WeakPassword, BadRequest)
    assert WeakPassword.status_code == 422
    assert WeakPassword.type_slug == "weak-password"
    assert WeakPassword.title == "Password too weak"


async def test_weak_password_carries_reasons_and_suggestions() -> None:
    error = await refusal(offline_policy(), "monkey12")

    assert set(error.extra) == {"reasons", "suggestions"}
    assert all(set(reason) == {"code", "message"} for reason in error.extra["reasons"])
    assert any("passphrase" in suggestion for suggestion in error.extra["suggestions"])


async def test_a_unicode_passphrase_is_accepted() -> None:
    await offline_policy().check("🦊🌲🔥 ünïcødé Mønster 42")


def test_the_common_list_is_bundled_and_lowercase() -> None:
    words = common_passwords()

    assert len(words) >= 1000
    assert {"123456", "password", "qwerty", "iloveyou"} <= words
    assert all(word == word.lower() and word.strip() == word for word in words)
    assert not any(word.startswith("#") for word in words)


# --- breached-password range API -----------------------------------------------------------


@dataclass
class RangeApi:
    """A real HTTP server answering like the range API, with knobs for failures."""

    port: int
    counts: dict[str, int] = field(default_factory=dict)
    padded: dict[str, list[str]] = field(default_factory=dict)
    status: int = 200
    newline: str = "\r\n"
    delay_s: float = 0.0
    body_override: str | None = None
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/range/"

    def breach(self, password: str, count: int) -> None:
        self.counts[sha1_upper(password)] = count

    def pad_with(self, password: str) -> None:
        """Send this password's own suffix as a padding line (count 0)."""
        digest = sha1_upper(password)
        self.padded.setdefault(digest[:5], []).append(digest[5:])

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, request.headers.get("Add-Padding")))
        prefix = request.match_info["prefix"]
        if re.fullmatch(r"[0-9A-F]{5}", prefix) is None:
            return web.Response(status=400, text="The hash prefix was not in a valid format")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.status != 200:
            return web.Response(status=self.status, text="Service Unavailable")
        if self.body_override is not None:
            return web.Response(text=self.body_override, content_type="text/html")
        lines = [
            f"{digest[5:]}:{count}" for digest, count in self.counts.items() if digest[:5] == prefix
        ]
        if request.headers.get("Add-Padding") == "true":
            lines += [f"{suffix}:0" for suffix in self.padded.get(prefix, [])]
            lines += [f"{secrets.token_hex(18).upper()[:35]}:0" for _ in range(50)]
        lines.sort()
        return web.Response(text=self.newline.join(lines), content_type="text/plain")


@pytest.fixture
async def range_api() -> AsyncIterator[RangeApi]:
    api = RangeApi(port=free_port())
    app = web.Application()
    app.router.add_get("/range/{prefix}", api.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", api.port).start()
    try:
        yield api
    finally:
        await runner.cleanup()


def api_policy(
    api: RangeApi, *, breached_check: bool = True, password_min_score: int = 2
) -> PasswordPolicy:
    settings = AuthSettings(
        breached_api_url=api.url,
        breached_check=breached_check,
        password_min_score=password_min_score,
    )
    return PasswordPolicy(settings)


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
async def test_breached_password_count_comes_from_the_range_api(
    range_api: RangeApi, newline: str
) -> None:
    range_api.newline = newline
    range_api.breach(STRONG, 3_861_493)

    assert await BreachedPasswords(range_api.url).times_seen(STRONG) == 3_861_493
    digest = sha1_upper(STRONG)
    assert range_api.requests == [(f"/range/{digest[:5]}", "true")]


async def test_breached_password_is_refused_with_the_count(range_api: RangeApi) -> None:
    range_api.breach(STRONG, 3_861_493)

    error = await refusal(api_policy(range_api), STRONG)

    assert error.reason_codes == ["breached"]
    assert "seen 3,861,493 times" in error.message
    assert "data breach" in error.message


async def test_unknown_password_is_accepted(range_api: RangeApi) -> None:
    range_api.breach("some other password", 12)

    assert await BreachedPasswords(range_api.url).times_seen(STRONG) == 0
    await api_policy(range_api).check(STRONG)
    assert len(range_api.requests) == 2


async def test_padding_lines_are_not_matches(range_api: RangeApi) -> None:
    range_api.pad_with(STRONG)

    assert await BreachedPasswords(range_api.url).times_seen(STRONG) == 0
    await api_policy(range_api).check(STRONG)


async def test_the_api_decides_even_for_a_listed_password(range_api: RangeApi) -> None:
    # The offline list is only the fallback: a reachable API saying "breached" gives the count.
    range_api.breach("iloveyou", 1_645_337)

    lookup = await BreachedPasswords(range_api.url).lookup("iloveyou")

    assert (lookup.count, lookup.source) == (1_645_337, "api")


async def test_a_shared_client_is_used_and_left_open(range_api: RangeApi) -> None:
    range_api.breach(STRONG, 7)
    async with httpx.AsyncClient() as client:
        checker = BreachedPasswords(range_api.url, client=client)

        assert await checker.times_seen(STRONG) == 7
        assert await checker.times_seen(STRONG) == 7
        assert not client.is_closed


async def test_breached_check_off_makes_no_request(range_api: RangeApi) -> None:
    range_api.breach(STRONG, 99)

    await api_policy(range_api, breached_check=False).check(STRONG)

    assert range_api.requests == []


async def assert_falls_back(url: str, *, timeout_s: float = 2.0) -> list[EventDict]:
    checker = BreachedPasswords(url, timeout_s=timeout_s)
    with structlog.testing.capture_logs() as logs:
        common = await checker.lookup("iloveyou")
        strong = await checker.lookup(STRONG)
    assert (common.count, common.source) == (1, "offline")
    assert (strong.count, strong.source) == (0, "offline")
    fallbacks = [log for log in logs if log["event"] == "password.breach_check_unavailable"]
    assert len(fallbacks) == 2
    assert all(log["log_level"] == "warning" for log in fallbacks)
    assert all(log["fallback"] == "offline_list" for log in fallbacks)
    assert "iloveyou" not in repr(logs)
    assert sha1_upper("iloveyou")[:5] not in repr(logs)
    return fallbacks


async def test_a_503_falls_back_to_the_offline_list(range_api: RangeApi) -> None:
    range_api.status = 503
    range_api.breach("iloveyou", 5)

    fallbacks = await assert_falls_back(range_api.url)

    assert fallbacks[0]["status"] == 503
    assert len(range_api.requests) == 2


async def test_an_unreachable_api_falls_back_to_the_offline_list() -> None:
    fallbacks = await assert_falls_back(f"http://127.0.0.1:{free_port()}/range/")

    assert fallbacks[0]["error"] == "ConnectError"


async def test_a_slow_api_falls_back_after_the_timeout(range_api: RangeApi) -> None:
    range_api.delay_s = 1.0

    fallbacks = await assert_falls_back(range_api.url, timeout_s=0.2)

    assert fallbacks[0]["error"] in {"TimeoutError", "ReadTimeout"}


async def test_a_body_that_is_not_the_apis_falls_back(range_api: RangeApi) -> None:
    range_api.body_override = "<html><body>Please sign in to the Wi-Fi</body></html>"

    fallbacks = await assert_falls_back(range_api.url)

    assert fallbacks[0]["error"] == "ValueError"


async def test_policy_with_the_api_down_still_refuses_common_and_accepts_strong(
    range_api: RangeApi,
) -> None:
    range_api.status = 503
    policy = api_policy(range_api, password_min_score=0)

    with structlog.testing.capture_logs() as logs:
        error = await refusal(policy, "P@ssw0rd")
        await policy.check(STRONG)

    assert error.reason_codes == ["common"]
    assert [log["event"] for log in logs].count("password.breach_check_unavailable") == 2


def test_parse_range_response_ignores_padding_and_rejects_garbage() -> None:
    suffix = "0018A45C4D1DEF81644B54AB7F969B88D65"
    body = f"{suffix}:0\r\n{'F' * 35}:3\r\n\r\n"

    assert parse_range_response(body, suffix) == 0
    assert parse_range_response(body, "F" * 35) == 3
    assert parse_range_response(f"{suffix.lower()}:10\n", suffix) == 10
    with pytest.raises(ValueError, match="malformed"):
        parse_range_response(f"{suffix}:10\n<html>", suffix)


async def test_registration_with_a_breached_password_is_refused_helpfully(
    range_api: RangeApi, tmp_path: Path
) -> None:
    """Through HTTP: the API's answer reaches the person as a 422 naming the breach."""
    range_api.breach(STRONG, 51_259)
    settings = Settings(
        data_dir=tmp_path,
        auth=AuthSettings(bcrypt_rounds=4, breached_api_url=range_api.url),
    )
    upgrade(settings.database_url)
    app = create_app(settings, configure_logs=False)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://orin.test") as http:
            refused = await http.post(
                "/api/v1/auth/register", json={"email": "b@example.com", "password": STRONG}
            )
            accepted = await http.post(
                "/api/v1/auth/register",
                json={"email": "b@example.com", "password": STRONG + "-unseen-7Q"},
            )
    assert refused.status_code == 422
    body = refused.json()
    assert body["type"].endswith("/weak-password")
    assert "data breach" in body["detail"]
    assert "51" in body["detail"]
    assert [reason["code"] for reason in body["reasons"]] == ["breached"]
    assert accepted.status_code == 201, accepted.text
