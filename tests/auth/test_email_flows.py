"""Email verification and password reset by mail, end to end on both adapter sets.

The app runs the api and worker roles, so the outbox relay and the mail task run for real: a
sign-up or a reset request sends a mail through a real SMTP server (aiosmtpd), and the tests
follow the link in it. Without SMTP settings the mail lands as an .eml file under the data
folder. The SMTP adapter, the folder adapter and the templates are also tested on their own.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import structlog
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update

import orin.auth.email_tasks
from orin.app import create_app
from orin.auth.email_endpoints import RESET_REQUESTED
from orin.auth.email_flows import MAIL_TOPIC, SEAL_PURPOSE, hash_email_token
from orin.bus.base import Message
from orin.config import MailSettings, Settings
from orin.db import Database
from orin.mail import (
    FolderSender,
    MailRejected,
    MailUnavailable,
    RecipientRefused,
    SmtpSender,
    create_mail_sender,
)
from orin.mail.templates import describe_duration, password_reset_message, verification_message
from orin.models.base import new_id, utcnow
from orin.models.email_token import EmailToken, EmailTokenPurpose
from orin.models.user import User
from orin.runtime.infrastructure import Infrastructure
from orin.runtime.tasks import OwnTransactionsContext
from tests.auth.conftest import sign_up, unique_email
from tests.fixtures.services import free_port
from tests.fixtures.waiting import passes

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fixtures.smtp import SmtpServer

# Not imported at run time: pytest must load the fixture module itself to rewrite its asserts.
pytest_plugins = ["tests.fixtures.smtp"]

APP_URL = "https://app.orin.test"
VERIFY_SUBJECT = "Verify your email"
RESET_SUBJECT = "Reset your ORIN password"
NEW_PASSWORD = "Quiet-lantern-orbit-4-meadow"
PROBLEM = "application/problem+json"


# --- the app with its worker ---------------------------------------------------------------


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on an app that plays the api and worker roles."""
    app = create_app(settings, roles=("api", "worker"), configure_logs=False)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://orin.test") as http:
            yield http


@pytest.fixture
def mail_settings(auth_settings: Settings, smtp_server: SmtpServer) -> Settings:
    """The adapter set under test, mailing through the test SMTP server."""
    mail = MailSettings(
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_security="none",
        smtp_timeout_s=5.0,
        app_url=APP_URL,
    )
    return auth_settings.model_copy(update={"mail": mail})


@pytest.fixture
async def mail_client(mail_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running(mail_settings) as http:
        yield http


# --- helpers -------------------------------------------------------------------------------


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def link_token(message: EmailMessage, path: str) -> str:
    """The token of the ``<APP_URL><path>?token=...`` link in the plain-text part."""
    found = re.search(rf"{re.escape(APP_URL + path)}\?\S+", text_part(message))
    assert found is not None, text_part(message)
    url = found.group(0)
    assert url.replace("&", "&amp;") in html_part(message)
    tokens = parse_qs(urlsplit(url).query)["token"]
    assert len(tokens) == 1
    return tokens[0]


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/" + slug), body
    return body


async def verify(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post("/api/v1/auth/verify-email", json={"token": token})


async def forgot(http: httpx.AsyncClient, email: str) -> httpx.Response:
    return await http.post("/api/v1/auth/password/forgot", json={"email": email})


async def reset(http: httpx.AsyncClient, token: str, password: str) -> httpx.Response:
    return await http.post(
        "/api/v1/auth/password/reset", json={"token": token, "password": password}
    )


async def login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/auth/login", json={"email": email, "password": password})


async def reset_token_for(http: httpx.AsyncClient, smtp_server: SmtpServer, email: str) -> str:
    response = await forgot(http, email)
    assert response.status_code == 202, response.text
    mail = await smtp_server.wait_for_message(email, subject=RESET_SUBJECT)
    return link_token(mail, "/reset-password")


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    try:
        yield db
    finally:
        await db.dispose()


async def tokens_of(settings: Settings, email: str) -> list[EmailToken]:
    async with database(settings) as db, db.transaction() as session:
        rows = await session.scalars(select(EmailToken).where(EmailToken.email == email))
        return list(rows)


# --- verification --------------------------------------------------------------------------


async def test_signing_up_mails_a_link_that_verifies_the_address(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    user = await sign_up(mail_client)
    received = await smtp_server.wait_for(user.email, subject=VERIFY_SUBJECT)
    mail = received.message
    assert received.rcpt_tos == [user.email]
    assert mail["To"] == user.email
    assert mail["From"] == MailSettings().sender
    assert mail.get_content_type() == "multipart/alternative"
    assert "expires in 2 days" in text_part(mail)
    token = link_token(mail, "/verify-email")

    # Unverified users may use the app meanwhile.
    before = await mail_client.get("/api/v1/user/me", headers=user.auth)
    assert before.status_code == 200
    assert before.json()["email_verified"] is False

    verified = await verify(mail_client, token)
    assert verified.status_code == 200, verified.text
    assert verified.json()["id"] == user.user_id
    assert verified.json()["email_verified"] is True
    me = await mail_client.get("/api/v1/user/me", headers=user.auth)
    assert me.json()["email_verified"] is True


async def test_other_writes_go_through_while_the_mail_server_is_slow(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    """The mail task waits for the SMTP server outside any transaction: on SQLite one left open
    across the wait holds the only write lock, and every other write would wait with it."""
    slow = f"{smtp_server.slow_prefix}{uuid.uuid4().hex[:10]}@example.com"
    await sign_up(mail_client, email=slow)  # its verification mail meets the slow server

    async def held() -> None:
        assert smtp_server.holding(slow)

    await passes(held, within_s=20)
    other = await sign_up(mail_client)  # a write while the server holds the first mail
    assert other.email
    assert smtp_server.messages_to(slow) == []  # it did not wait for that mail
    await smtp_server.wait_for(slow, subject=VERIFY_SUBJECT)


async def test_a_verification_link_works_only_once(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    user = await sign_up(mail_client)
    token = link_token(
        await smtp_server.wait_for_message(user.email, subject=VERIFY_SUBJECT), "/verify-email"
    )
    assert (await verify(mail_client, token)).status_code == 200
    again = assert_problem(await verify(mail_client, token), 410, "expired-email-token")
    assert "already used" in again["detail"]


async def test_an_expired_verification_link_is_refused(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer, mail_settings: Settings
) -> None:
    user = await sign_up(mail_client)
    token = link_token(
        await smtp_server.wait_for_message(user.email, subject=VERIFY_SUBJECT), "/verify-email"
    )
    async with database(mail_settings) as db, db.transaction() as session:
        await session.execute(
            update(EmailToken)
            .where(EmailToken.token_hash == hash_email_token(token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    body = assert_problem(await verify(mail_client, token), 410, "expired-email-token")
    assert "expired" in body["detail"]
    me = await mail_client.get("/api/v1/user/me", headers=user.auth)
    assert me.json()["email_verified"] is False


async def test_unknown_and_wrong_purpose_tokens_are_refused(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    assert_problem(await verify(mail_client, "not-a-token"), 400, "invalid-email-token")
    user = await sign_up(mail_client)
    reset_token = await reset_token_for(mail_client, smtp_server, user.email)
    # A reset link does not verify, and a verification link does not reset.
    assert_problem(await verify(mail_client, reset_token), 400, "invalid-email-token")
    verify_token = link_token(
        await smtp_server.wait_for_message(user.email, subject=VERIFY_SUBJECT), "/verify-email"
    )
    assert_problem(await reset(mail_client, verify_token, NEW_PASSWORD), 400, "invalid-email-token")
    # Both links still work for what they were made for.
    assert (await verify(mail_client, verify_token)).status_code == 200
    assert (await reset(mail_client, reset_token, NEW_PASSWORD)).status_code == 204


async def test_resend_mails_a_new_link_until_the_address_is_verified(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    user = await sign_up(mail_client)
    first = link_token(
        await smtp_server.wait_for_message(user.email, subject=VERIFY_SUBJECT), "/verify-email"
    )
    resent = await mail_client.post("/api/v1/auth/verify-email/resend", headers=user.auth)
    assert resent.status_code == 202, resent.text
    second = link_token(
        await smtp_server.wait_for_message(user.email, subject=VERIFY_SUBJECT), "/verify-email"
    )
    assert second != first
    assert (await verify(mail_client, second)).status_code == 200
    # Verifying retires the account's other verification links.
    assert_problem(await verify(mail_client, first), 410, "expired-email-token")
    assert_problem(
        await mail_client.post("/api/v1/auth/verify-email/resend", headers=user.auth),
        409,
        "email-already-verified",
    )


async def test_resending_needs_a_signed_in_user_and_is_rate_limited(
    mail_client: httpx.AsyncClient,
) -> None:
    anonymous = await mail_client.post("/api/v1/auth/verify-email/resend")
    assert anonymous.status_code == 401
    user = await sign_up(mail_client)
    statuses = [
        (await mail_client.post("/api/v1/auth/verify-email/resend", headers=user.auth)).status_code
        for _ in range(4)
    ]
    assert statuses == [202, 202, 202, 429]


async def test_a_link_for_an_address_the_account_no_longer_has_is_refused(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer, mail_settings: Settings
) -> None:
    user = await sign_up(mail_client)
    token = link_token(
        await smtp_server.wait_for_message(user.email, subject=VERIFY_SUBJECT), "/verify-email"
    )
    async with database(mail_settings) as db, db.transaction() as session:
        await session.execute(
            update(User).where(User.id == user.user_id).values(email=unique_email())
        )
    body = assert_problem(await verify(mail_client, token), 400, "invalid-email-token")
    assert "no longer uses" in body["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/verify-email", {}),
        ("/api/v1/auth/verify-email", {"token": ""}),
        ("/api/v1/auth/verify-email", {"token": "x" * 201}),
        ("/api/v1/auth/verify-email", {"token": "abc", "user_id": "someone"}),
        ("/api/v1/auth/password/forgot", {"email": "not an address"}),
        ("/api/v1/auth/password/forgot", {"email": "a@example.com", "extra": 1}),
        ("/api/v1/auth/password/forgot", {"email": "a" * 400 + "@example.com"}),
        ("/api/v1/auth/password/reset", {"token": "abc"}),
        ("/api/v1/auth/password/reset", {"token": "abc", "password": "x" * 2000}),
    ],
    ids=[
        "verify-empty",
        "verify-blank-token",
        "verify-huge-token",
        "verify-extra-field",
        "forgot-not-an-email",
        "forgot-extra-field",
        "forgot-huge-email",
        "reset-no-password",
        "reset-huge-password",
    ],
)
async def test_malformed_requests_are_422(
    mail_client: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> None:
    response = await mail_client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM


# --- password reset ------------------------------------------------------------------------


async def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer, mail_settings: Settings
) -> None:
    user = await sign_up(mail_client)
    stranger = unique_email()
    unknown = await forgot(mail_client, stranger)
    known = await forgot(mail_client, user.email)
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json() == {"detail": RESET_REQUESTED}
    assert unknown.headers["content-type"] == known.headers["content-type"]

    mail = await smtp_server.wait_for_message(user.email, subject=RESET_SUBJECT)
    assert "expires in 1 hour" in text_part(mail)
    link_token(mail, "/reset-password")
    assert await tokens_of(mail_settings, stranger) == []
    await asyncio.sleep(0.2)
    assert smtp_server.messages_to(stranger) == []


async def test_forgot_password_is_rate_limited_per_address_known_or_not(
    mail_client: httpx.AsyncClient,
) -> None:
    address = unique_email()
    statuses = [(await forgot(mail_client, address)).status_code for _ in range(6)]
    assert statuses == [202] * 5 + [429]
    assert (await forgot(mail_client, unique_email())).status_code == 202


async def test_resetting_the_password_signs_out_every_session(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    user = await sign_up(mail_client)
    second = await login(mail_client, user.email, user.password)
    assert second.status_code == 200
    sessions = [
        (user.access_token, user.refresh_token),
        (second.json()["access_token"], second.json()["refresh_token"]),
    ]
    token = await reset_token_for(mail_client, smtp_server, user.email)

    weak = await reset(mail_client, token, "password1")
    assert_problem(weak, 422, "weak-password")
    # A refused password leaves the link usable and the old password in place.
    assert (await mail_client.get("/api/v1/user/me", headers=user.auth)).status_code == 200

    done = await reset(mail_client, token, NEW_PASSWORD)
    assert done.status_code == 204, done.text
    assert done.content == b""

    for access_token, refresh_token in sessions:
        me = await mail_client.get(
            "/api/v1/user/me", headers={"Authorization": f"Bearer {access_token}"}
        )
        assert me.status_code == 401
        refreshed = await mail_client.post(
            "/api/v1/auth/refresh", json={"refresh_token": refresh_token}
        )
        assert refreshed.status_code == 401
    assert (await login(mail_client, user.email, user.password)).status_code == 401
    fresh = await login(mail_client, user.email, NEW_PASSWORD)
    assert fresh.status_code == 200, fresh.text
    # Following a mailed link proved the address.
    assert fresh.json()["user"]["email_verified"] is True
    assert_problem(await reset(mail_client, token, NEW_PASSWORD), 410, "expired-email-token")


async def test_a_reset_retires_the_accounts_other_reset_links(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    user = await sign_up(mail_client)
    older = await reset_token_for(mail_client, smtp_server, user.email)
    newer = await reset_token_for(mail_client, smtp_server, user.email)
    assert older != newer
    assert (await reset(mail_client, newer, NEW_PASSWORD)).status_code == 204
    assert_problem(
        await reset(mail_client, older, "Another-good-pass-77-word"), 410, "expired-email-token"
    )
    assert (await login(mail_client, user.email, NEW_PASSWORD)).status_code == 200


async def test_a_reset_lifts_a_lockout(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer
) -> None:
    user = await sign_up(mail_client)
    for _ in range(3):  # the fixture locks after 3 failures
        await login(mail_client, user.email, "Wrong-password-123")
    assert (await login(mail_client, user.email, user.password)).status_code == 429
    token = await reset_token_for(mail_client, smtp_server, user.email)
    assert (await reset(mail_client, token, NEW_PASSWORD)).status_code == 204
    assert (await login(mail_client, user.email, NEW_PASSWORD)).status_code == 200


async def test_an_expired_reset_link_is_refused(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer, mail_settings: Settings
) -> None:
    user = await sign_up(mail_client)
    token = await reset_token_for(mail_client, smtp_server, user.email)
    async with database(mail_settings) as db, db.transaction() as session:
        await session.execute(
            update(EmailToken)
            .where(EmailToken.token_hash == hash_email_token(token))
            .values(expires_at=utcnow())
        )
    assert_problem(await reset(mail_client, token, NEW_PASSWORD), 410, "expired-email-token")
    assert (await login(mail_client, user.email, user.password)).status_code == 200


async def test_tokens_are_stored_hashed_and_sealed(
    mail_client: httpx.AsyncClient, smtp_server: SmtpServer, mail_settings: Settings
) -> None:
    user = await sign_up(mail_client)
    token = await reset_token_for(mail_client, smtp_server, user.email)
    rows = [
        row
        for row in await tokens_of(mail_settings, user.email)
        if row.purpose == EmailTokenPurpose.RESET_PASSWORD
    ]
    assert len(rows) == 1
    row = rows[0]
    assert row.token_hash == hash_email_token(token)
    assert token not in row.sealed_token
    assert row.user_id == user.user_id
    assert row.used_at is None


# --- the folder fallback and the task ------------------------------------------------------


def mails_in(folder: Path) -> list[tuple[Path, EmailMessage]]:
    """The finished .eml files in ``folder``, parsed, oldest first."""
    found: list[tuple[Path, EmailMessage]] = []
    for path in sorted(folder.glob("*.eml")) if folder.is_dir() else []:
        parsed = BytesParser(policy=default_policy).parsebytes(path.read_bytes())
        assert isinstance(parsed, EmailMessage)
        found.append((path, parsed))
    return found


async def wait_for_file(
    folder: Path, to: str, timeout_s: float = 20.0
) -> tuple[Path, EmailMessage]:
    """The first mail file to ``to``. Others may be there: the worker also sends what other
    tests' sign-ups left in this worker's shared database."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        for path, mail in await asyncio.to_thread(mails_in, folder):
            if mail["To"] == to:
                return path, mail
        assert asyncio.get_running_loop().time() < deadline, f"no .eml to {to} in {folder}"
        await asyncio.sleep(0.05)


async def test_without_smtp_the_mail_is_written_to_the_data_folder_and_logged(
    auth_settings: Settings,
) -> None:
    assert auth_settings.mail.smtp_host is None
    folder = auth_settings.data_dir / "mail"
    with structlog.testing.capture_logs() as logs:
        async with running(auth_settings) as http:
            user = await sign_up(http)
            path, mail = await wait_for_file(folder, user.email)
            assert re.fullmatch(r"\d{8}T\d{12}Z-[0-9a-f]{12}\.eml", path.name), path.name
            assert mail["Subject"].startswith(VERIFY_SUBJECT)
            found = re.search(r"/verify-email\?token=(\S+)", text_part(mail))
            assert found is not None
            token = found.group(1)
            assert text_part(mail).count(auth_settings.public_url + "/verify-email") == 1
            verified = await verify(http, token)
            assert verified.status_code == 200, verified.text
            assert verified.json()["email_verified"] is True
    written = [
        entry for entry in logs if entry["event"] == "mail.written" and entry["path"] == str(path)
    ]
    assert len(written) == 1
    assert written[0]["to"] == [user.email]
    assert written[0]["subject"] == mail["Subject"]
    assert token not in repr(logs)
    assert not list(folder.glob(".*"))  # no partial files left behind


async def test_the_mail_task_skips_used_tokens_and_raises_when_smtp_is_down(
    mail_settings: Settings, smtp_server: SmtpServer
) -> None:
    down = mail_settings.model_copy(
        update={
            "mail": mail_settings.mail.model_copy(
                update={"smtp_port": free_port(), "smtp_timeout_s": 2.0}
            )
        }
    )
    infra = Infrastructure.from_settings(down)
    email = unique_email()
    ids: dict[str, str] = {}
    try:
        async with infra.database.transaction() as session:
            user = User(id=new_id(), email=email)
            session.add(user)
            await session.flush()
            for name, used_at in (("fresh", None), ("used", utcnow())):
                row = EmailToken(
                    id=new_id(),
                    user_id=user.id,
                    purpose=EmailTokenPurpose.VERIFY_EMAIL,
                    token_hash=hash_email_token(name + uuid.uuid4().hex),
                    sealed_token=infra.sealer.seal(name.encode(), purpose=SEAL_PURPOSE),
                    email=email,
                    expires_at=utcnow() + timedelta(hours=1),
                    used_at=used_at,
                )
                session.add(row)
                ids[name] = row.id

        async def run(token_id: str) -> None:
            await orin.auth.email_tasks.send_email_token(
                OwnTransactionsContext(infra, MAIL_TOPIC),
                Message(topic=MAIL_TOPIC, payload={"email_token_id": token_id}),
            )

        await run(ids["used"])  # nothing to send, so no connection attempted
        await run("no-such-token")
        with pytest.raises(MailUnavailable) as caught:
            await run(ids["fresh"])  # the bus retries a handler that raises
        assert caught.value.transient
    finally:
        await infra.close()
    assert smtp_server.messages_to(email) == []


# --- the SMTP adapter ----------------------------------------------------------------------


def sample_message(to: str, *, display_name: str = "Ada") -> EmailMessage:
    settings = Settings(mail=MailSettings(app_url=APP_URL))
    return verification_message(settings, to=to, display_name=display_name, token="tok-123")


def smtp_settings(server_port: int, **overrides: Any) -> MailSettings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": server_port,
        "smtp_security": "none",
        "smtp_timeout_s": 5.0,
    }
    values.update(overrides)
    return MailSettings(**values)


async def test_smtp_sender_delivers_a_multipart_message(smtp_server: SmtpServer) -> None:
    to = unique_email()
    await SmtpSender(smtp_settings(smtp_server.port)).send(sample_message(to))
    received = await smtp_server.wait_for(to)
    assert received.rcpt_tos == [to]
    assert received.mail_from == "no-reply@orin.local"
    assert received.login is None
    mail = received.message
    assert mail["Subject"] == "Verify your email address for ORIN"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Message-ID"].endswith("@orin.local>")
    assert f"{APP_URL}/verify-email?token=tok-123" in text_part(mail)
    assert f'href="{APP_URL}/verify-email?token=tok-123"' in html_part(mail)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_smtp_sender_authenticates_when_a_user_name_is_set(
    make_smtp_server: Callable[..., SmtpServer],
) -> None:
    server = make_smtp_server(credentials=("mailer", "s3cret"))
    to = unique_email()
    good = smtp_settings(server.port, smtp_username="mailer", smtp_password="s3cret")
    await SmtpSender(good).send(sample_message(to))
    assert (await server.wait_for(to)).login == "mailer"

    wrong = smtp_settings(server.port, smtp_username="mailer", smtp_password="nope")
    with pytest.raises(MailRejected) as refused:
        await SmtpSender(wrong).send(sample_message(unique_email()))
    assert not refused.value.transient
    assert refused.value.code == 535
    assert "nope" not in str(refused.value)

    with pytest.raises(MailRejected):  # the server demands AUTH, none was given
        await SmtpSender(smtp_settings(server.port)).send(sample_message(unique_email()))


async def test_smtp_sender_refuses_to_go_on_without_starttls(smtp_server: SmtpServer) -> None:
    settings = smtp_settings(smtp_server.port, smtp_security="starttls")
    to = unique_email()
    with pytest.raises(MailRejected) as refused:
        await SmtpSender(settings).send(sample_message(to))
    assert not refused.value.transient
    assert "STARTTLS" in str(refused.value)
    assert smtp_server.messages_to(to) == []


async def test_smtp_sender_reports_a_refused_connection_as_transient() -> None:
    with pytest.raises(MailUnavailable) as down:
        await SmtpSender(smtp_settings(free_port())).send(sample_message(unique_email()))
    assert down.value.transient


async def test_smtp_sender_gives_up_on_a_silent_server_after_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never greets
        writer.close()

    port = free_port()
    server = await asyncio.start_server(silent, "127.0.0.1", port)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(MailUnavailable):
            await SmtpSender(smtp_settings(port, smtp_timeout_s=0.5)).send(
                sample_message(unique_email())
            )
        assert asyncio.get_running_loop().time() - started < 5
    finally:
        server.close()
        await server.wait_closed()


async def test_smtp_sender_tells_deferred_from_refused_recipients(
    smtp_server: SmtpServer,
) -> None:
    sender = SmtpSender(smtp_settings(smtp_server.port))
    with pytest.raises(MailUnavailable) as deferred:
        await sender.send(
            sample_message(f"{smtp_server.defer_prefix}{uuid.uuid4().hex[:8]}@example.com")
        )
    assert deferred.value.code == 451
    with pytest.raises(RecipientRefused) as refused:
        await sender.send(
            sample_message(f"{smtp_server.refuse_prefix}{uuid.uuid4().hex[:8]}@example.com")
        )
    assert refused.value.code == 550
    assert not refused.value.transient


# --- the folder adapter and the choice of adapter ------------------------------------------


async def test_folder_sender_writes_whole_eml_files_and_logs_no_body(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    to = unique_email()
    with structlog.testing.capture_logs() as logs:
        await FolderSender(folder).send(sample_message(to))
        await FolderSender(folder).send(sample_message(to))
    files = sorted(folder.iterdir())
    assert len(files) == 2
    assert all(path.suffix == ".eml" for path in files)
    parsed = BytesParser(policy=default_policy).parsebytes(files[0].read_bytes())
    assert isinstance(parsed, EmailMessage)
    assert parsed["To"] == to
    assert "tok-123" in text_part(parsed)
    assert [entry["to"] for entry in logs if entry["event"] == "mail.written"] == [[to], [to]]
    assert "tok-123" not in repr(logs)


def test_the_mail_adapter_follows_the_settings(tmp_path: Path) -> None:
    folder = create_mail_sender(Settings(data_dir=tmp_path))
    assert isinstance(folder, FolderSender)
    assert folder.folder == tmp_path / "mail"
    smtp = create_mail_sender(Settings(data_dir=tmp_path, mail=smtp_settings(2525)))
    assert isinstance(smtp, SmtpSender)


# --- templates -----------------------------------------------------------------------------


def test_templates_escape_user_input_in_the_html_part() -> None:
    settings = Settings(mail=MailSettings(app_url=APP_URL + "/"))
    name = '<script>alert("x")</script> & <b>Bob</b>'
    mail = password_reset_message(settings, to="bob@example.com", display_name=name, token="a+b/c=")
    html = html_part(mail)
    assert "<script>" not in html
    assert "<b>Bob</b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Bob&lt;/b&gt;" in html
    assert name in text_part(mail)  # plain text needs no escaping
    url = f"{APP_URL}/reset-password?token=a%2Bb%2Fc%3D"  # no double slash, token encoded
    assert url in text_part(mail)
    assert f'href="{url}"' in html
    assert "expires in 1 hour" in text_part(mail)
    assert "expires in 1 hour" in html


def test_the_link_base_defaults_to_the_public_url() -> None:
    settings = Settings()
    mail = verification_message(settings, to="a@example.com", display_name="", token="t")
    assert f"{settings.public_url}/verify-email?token=t" in text_part(mail)
    assert text_part(mail).startswith("Hello,\n")


def test_a_display_name_cannot_break_the_mail_layout() -> None:
    mail = verification_message(
        Settings(), to="a@example.com", display_name="Eve\r\nBcc: x@evil.test", token="t"
    )
    assert mail["Bcc"] is None
    assert text_part(mail).startswith("Hello Eve Bcc: x@evil.test,\n")


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (172_800, "2 days"),
        (86_400, "1 day"),
        (90_000, "25 hours"),
        (3_600, "1 hour"),
        (5_400, "1 hour"),
        (120, "2 minutes"),
        (60, "1 minute"),
        (45, "45 seconds"),
    ],
)
def test_lifetimes_are_described_without_overstating_them(seconds: int, words: str) -> None:
    assert describe_duration(seconds) == words
