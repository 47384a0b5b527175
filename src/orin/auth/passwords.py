"""Password hashing, the password policy and the breached-password check.

Hashing: bcrypt reads at most 72 bytes and stops at a NUL byte, so it never sees the password
itself. The password is NFKC-normalised (the same password typed on two keyboards gives the
same bytes, as NIST SP 800-63B asks), encoded as UTF-8 and reduced to
``base64(HMAC-SHA256(PREHASH_KEY, password))``: 44 ASCII bytes with no NUL, whatever the length.
The HMAC key is a fixed label, not a secret: it only makes the digest differ from a plain
SHA-256, so unsalted SHA-256 dumps leaked elsewhere cannot be tested against ORIN's hashes
("password shucking"). bcrypt runs in a worker thread because it is meant to be slow.

Policy: length (in code points after NFKC), character variety or a long passphrase, a zxcvbn
strength score, and the breached-password check. Every failing rule is reported at once.

Breached passwords: the k-anonymity range API (as Have I Been Pwned's ``range`` endpoint)
receives only the first 5 hex digits of the password's SHA-1. When it cannot be reached the
check falls back to a bundled list of the most common passwords, so registration never
depends on a third party being up.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import importlib.resources
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import bcrypt
import httpx
import structlog
from zxcvbn import zxcvbn  # type: ignore[import-untyped]

from orin.config import AuthSettings
from orin.errors import BadRequest

logger = structlog.get_logger(__name__)

PREHASH_KEY = b"orin.auth.password.v1"
"""HMAC key of the pre-hash; changing it invalidates every stored password hash."""

DEFAULT_BCRYPT_ROUNDS = 12
PASSWORD_MAX_LENGTH = 1024
PASSPHRASE_LENGTH = 16
"""Passwords at least this long need no mix of character classes."""

ZXCVBN_MAX_CHARS = 100
"""zxcvbn gets slow on long inputs; only this many leading characters are scored."""

_DUMMY_PASSWORD = b"orin-dummy-password-for-timing"
# bcrypt.hashpw(_DUMMY_PASSWORD, bcrypt.gensalt(12)), precomputed so the first login of an
# unknown address does not pay for a second bcrypt run.
_DUMMY_HASH_12 = b"$2b$12$9SkOnYq3F5SluylOJc8RheJRZjqCf8UiPIMKZP3344s/zxW.wG6V."

_HASH_COST = re.compile(r"^\$2[abxy]?\$(\d\d)\$[./A-Za-z0-9]{53}$")
_RANGE_LINE = re.compile(r"^([0-9A-F]{35}):(\d+)$")

# zxcvbn keeps the user inputs in a module-level dictionary while it scores, so two threads
# scoring at once could see each other's inputs.
_zxcvbn_lock = threading.Lock()


# --- hashing -------------------------------------------------------------------------------


def _prehash(password: str) -> bytes:
    normalized = unicodedata.normalize("NFKC", password)
    # surrogatepass: a lone surrogate (possible in JSON) still gives stable bytes.
    digest = hmac.new(
        PREHASH_KEY, normalized.encode("utf-8", "surrogatepass"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest)


def _hash_sync(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def _check_sync(password: str, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), hashed)
    except ValueError:  # not a bcrypt hash ("Invalid salt")
        return False


async def hash_password(password: str, *, rounds: int) -> str:
    """The bcrypt hash (``$2b$<rounds>$...``) of the pre-hashed password."""
    return await asyncio.to_thread(_hash_sync, password, rounds)


async def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches ``hashed``; False for a hash that is not bcrypt's."""
    if _HASH_COST.match(hashed) is None:
        return False
    return await asyncio.to_thread(_check_sync, password, hashed.encode("ascii"))


def hash_needs_update(hashed: str, *, rounds: int) -> bool:
    """Whether a stored hash should be recomputed (after a successful login) at ``rounds``."""
    match = _HASH_COST.match(hashed)
    return match is None or not hashed.startswith("$2b$") or int(match.group(1)) != rounds


@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    if _DUMMY_HASH_12.startswith(b"$2b$%02d$" % rounds):
        return _DUMMY_HASH_12
    return bcrypt.hashpw(_DUMMY_PASSWORD, bcrypt.gensalt(rounds))


def _burn_sync(password: str, rounds: int) -> None:
    bcrypt.checkpw(_prehash(password), _dummy_hash(rounds))


async def burn_password_check(password: str, *, rounds: int = DEFAULT_BCRYPT_ROUNDS) -> None:
    """Do the work of one password check against a fixed hash, and throw the answer away.

    Called when there is no real hash to check (unknown address, locked account), so those
    answers take as long as a wrong password and do not reveal which accounts exist. Pass the
    configured ``bcrypt_rounds`` so the cost matches the stored hashes.
    """
    await asyncio.to_thread(_burn_sync, password, rounds)


# --- breached passwords --------------------------------------------------------------------


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list of the most common passwords, lowercase."""
    text = (
        importlib.resources.files("orin.auth")
        .joinpath("common_passwords.txt")
        .read_text(encoding="utf-8")
    )
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def is_common_password(password: str) -> bool:
    """Whether the password (case-insensitively) is on the bundled common-password list."""
    return unicodedata.normalize("NFKC", password).casefold() in common_passwords()


@dataclass(frozen=True, slots=True)
class BreachLookup:
    """How often a password was seen, and whether the range API or the offline list said so.

    The offline list has no counts: a listed password counts as seen once.
    """

    count: int
    source: Literal["api", "offline"]


class BreachedPasswords:
    """Looks passwords up in a k-anonymity range API, or the offline list when it is down.

    ``api_url`` is the range endpoint's base (the 5-digit prefix is appended); None uses only
    the offline list. A shared ``client`` is used as is and not closed; without one, each
    lookup opens its own.
    """

    USER_AGENT: ClassVar[str] = "orin-password-check"

    def __init__(
        self,
        api_url: str | None,
        *,
        timeout_s: float = 2.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.api_url = api_url
        self.timeout_s = timeout_s
        self._client = client

    async def times_seen(self, password: str) -> int:
        """Times the password appears in breaches (0: never seen)."""
        return (await self.lookup(password)).count

    async def lookup(self, password: str) -> BreachLookup:
        """The breach count and where it came from; never raises for a failing API."""
        if self.api_url is None:
            return self._offline(password)
        normalized = unicodedata.normalize("NFKC", password).encode("utf-8", "surrogatepass")
        # The range API is keyed by SHA-1; it only picks the bucket, it protects nothing.
        sha1 = hashlib.sha1(normalized, usedforsecurity=False).hexdigest().upper()
        try:
            async with asyncio.timeout(self.timeout_s):
                count = await self._range_count(sha1[:5], sha1[5:])
        except Exception as exc:  # any failure: never block registration on a third party
            status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
            logger.warning(
                "password.breach_check_unavailable",
                error=type(exc).__name__,
                status=status,
                fallback="offline_list",
            )
            return self._offline(password)
        return BreachLookup(count=count, source="api")

    @staticmethod
    def _offline(password: str) -> BreachLookup:
        return BreachLookup(count=1 if is_common_password(password) else 0, source="offline")

    async def _range_count(self, prefix: str, suffix: str) -> int:
        assert self.api_url is not None
        url = self.api_url + prefix
        headers = {"Add-Padding": "true", "User-Agent": self.USER_AGENT}
        if self._client is not None:
            response = await self._client.get(url, headers=headers, timeout=self.timeout_s)
        else:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.get(url, headers=headers)
        response.raise_for_status()
        if response.status_code != httpx.codes.OK:
            raise ValueError(f"unexpected status {response.status_code}")
        return parse_range_response(response.text, suffix)


def parse_range_response(body: str, suffix: str) -> int:
    """The count of ``suffix`` in a range API body of ``SUFFIX:COUNT`` lines (0 if absent).

    Padding lines have a count of 0 and so never count as a match. A line that is not
    ``SUFFIX:COUNT`` raises ValueError: a body that is not the API's (a proxy's error page)
    must not pass for "not breached".
    """
    found = 0
    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _RANGE_LINE.match(line.upper())
        if match is None:
            raise ValueError("malformed range API line")
        if match.group(1) == suffix:
            found = int(match.group(2))
    return found


# --- policy --------------------------------------------------------------------------------


class WeakPassword(BadRequest):
    """The password breaks the policy; ``extra`` lists every reason and what to do instead."""

    status_code = 422
    type_slug = "weak-password"
    title = "Password too weak"

    @property
    def reason_codes(self) -> list[str]:
        """Codes of the failed rules: too_short, too_long, not_complex, easy_to_guess,
        breached, common."""
        return [reason["code"] for reason in self.extra.get("reasons", [])]


@dataclass(frozen=True, slots=True)
class _Strength:
    score: int
    warning: str
    suggestions: list[str]


def _zxcvbn_strength(password: str, user_inputs: list[str]) -> _Strength:
    with _zxcvbn_lock:
        result: dict[str, Any] = zxcvbn(
            password[:ZXCVBN_MAX_CHARS], user_inputs=user_inputs, max_length=ZXCVBN_MAX_CHARS
        )
    feedback: dict[str, Any] = result.get("feedback") or {}
    return _Strength(
        score=int(result["score"]),
        warning=str(feedback.get("warning") or ""),
        suggestions=[str(item) for item in feedback.get("suggestions") or []],
    )


def _expand_user_inputs(values: Iterable[str]) -> list[str]:
    """Each value and its words (an email's local part, domain and name parts) for zxcvbn."""
    words: list[str] = []
    for value in values:
        text = value.strip().lower()
        if not text:
            continue
        words.append(text)
        words.extend(part for part in re.split(r"[\W_]+", text) if len(part) >= 3)
    return list(dict.fromkeys(words))


def _character_classes(password: str) -> int:
    lower = upper = digit = other = False
    for char in password:
        if char.islower():
            lower = True
        elif char.isupper():
            upper = True
        elif char.isdigit():
            digit = True
        else:
            other = True
    return sum((lower, upper, digit, other))


class PasswordPolicy:
    """The rules a new password must meet, from `AuthSettings`.

    With ``breached_check`` off the range API is not called, but the offline list of common
    passwords still applies. Pass ``breached`` to use another checker (a shared HTTP client).
    """

    def __init__(
        self, settings: AuthSettings, *, breached: BreachedPasswords | None = None
    ) -> None:
        self.min_length = settings.password_min_length
        self.min_score = settings.password_min_score
        self.breached = breached or BreachedPasswords(
            settings.breached_api_url if settings.breached_check else None,
            timeout_s=settings.breached_timeout_s,
        )

    async def check(self, password: str, *, user_inputs: Sequence[str] = ()) -> None:
        """Raise `WeakPassword` naming every rule the password breaks.

        ``user_inputs`` are the account's own words (email, display name): a password made
        of them scores lower.
        """
        normalized = unicodedata.normalize("NFKC", password)
        length = len(normalized)
        reasons: list[dict[str, str]] = []
        suggestions: list[str] = []

        def refuse(code: str, message: str) -> None:
            reasons.append({"code": code, "message": message})

        if length > PASSWORD_MAX_LENGTH:
            refuse("too_long", f"Use at most {PASSWORD_MAX_LENGTH} characters.")
            raise self._error(reasons, suggestions)
        if length < self.min_length:
            refuse(
                "too_short",
                f"Use at least {self.min_length} characters (this one has {length}).",
            )
        if length < PASSPHRASE_LENGTH and _character_classes(normalized) < 3:
            refuse(
                "not_complex",
                "Mix at least three of lowercase letters, uppercase letters, digits and "
                f"symbols, or use a passphrase of {PASSPHRASE_LENGTH} characters or more.",
            )

        strength, breach = await asyncio.gather(
            asyncio.to_thread(_zxcvbn_strength, normalized, _expand_user_inputs(user_inputs)),
            self.breached.lookup(normalized),
        )
        if strength.score < self.min_score:
            detail = f" {strength.warning}" if strength.warning else ""
            refuse("easy_to_guess", f"This password is too easy to guess.{detail}")
            suggestions.extend(strength.suggestions)
        if breach.count > 0 and breach.source == "api":
            refuse(
                "breached",
                f"This password has appeared in a data breach (seen {breach.count:,} times); "
                "choose one you have not used elsewhere.",
            )
        elif breach.count > 0:
            refuse(
                "common",
                "This password is one of the most commonly used passwords; choose one you "
                "have not used elsewhere.",
            )
        if reasons:
            raise self._error(reasons, suggestions)

    @staticmethod
    def _error(reasons: list[dict[str, str]], suggestions: list[str]) -> WeakPassword:
        suggestions.append(
            "A passphrase of four or more unrelated words is strong and easy to remember."
        )
        return WeakPassword(
            " ".join(reason["message"] for reason in reasons),
            extra={"reasons": reasons, "suggestions": list(dict.fromkeys(suggestions))},
        )
