"""SMS notifications through Twilio's Programmable Messaging REST API.

One ``POST {twilio_url}/2010-04-01/Accounts/{AccountSid}/Messages.json`` per notice, with HTTP
basic authentication (account SID, auth token) and a form body: ``To`` (E.164), ``From`` (a
number) or ``MessagingServiceSid`` (when ``twilio_from`` is a service SID, ``MG…``), and
``Body``: ``[ORIN] <title>: <body> <link>``, shortened to Twilio's 1,600 characters while
keeping the link whole.

Twilio answers 201 with the message resource (its ``sid`` is returned). Errors come as JSON
``{"code", "message", "more_info", "status"}``: a 400 (invalid, unreachable or unsubscribed
number: 21211, 21614, 21610 …), 401 or 403 (credentials, account) or 404 cannot be fixed by
retrying (`PermanentDeliveryError`); 429, 5xx, timeouts and connection failures can
(`TransientDeliveryError`, with ``Retry-After`` when sent).
"""

from __future__ import annotations

import httpx
import structlog

from orin.config import NotifySettings
from orin.notifications.channels.http_headers import retry_after_s
from orin.notifications.notice import (
    Notice,
    PermanentDeliveryError,
    SmsTarget,
    TransientDeliveryError,
)

logger = structlog.get_logger(__name__)

API_VERSION = "2010-04-01"
MAX_BODY_CHARS = 1600
"""Twilio's limit on a message body (it splits longer texts into segments itself)."""
PREFIX = "[ORIN]"

INVALID_NUMBER_CODES = {
    21211: "invalid 'To' number",
    21214: "'To' number cannot be reached",
    21408: "no permission to send to the number's region",
    21610: "the recipient unsubscribed (replied STOP)",
    21612: "'To' number cannot be reached from this 'From' number",
    21614: "'To' number is not a mobile number",
}
"""Twilio error codes about the recipient's number."""


def sms_body(notice: Notice) -> str:
    """``[ORIN] <title>: <body> <link>``, at most `MAX_BODY_CHARS` characters; when it is too
    long the text is cut (with an ellipsis) and the link kept."""
    title = " ".join(notice.title.split())
    text = " ".join(notice.body.split())
    head = f"{PREFIX} {title}: {text}" if text else f"{PREFIX} {title}"
    tail = f" {notice.link}" if notice.link else ""
    if len(head) + len(tail) <= MAX_BODY_CHARS:
        return head + tail
    room = MAX_BODY_CHARS - len(tail) - 1
    if room <= len(PREFIX):  # an absurdly long link: it alone does not fit
        return (head + tail)[: MAX_BODY_CHARS - 1] + "…"
    return head[:room].rstrip() + "…" + tail


def _twilio_error(response: httpx.Response) -> tuple[int | None, str]:
    try:
        data = response.json()
    except ValueError:
        return None, " ".join(response.text[:300].split())
    if not isinstance(data, dict):
        return None, ""
    code = data.get("code")
    return (code if isinstance(code, int) else None), str(data.get("message", ""))


class TwilioSmsSender:
    """Sends SMS through Twilio. Pass ``client`` to share a connection pool; without one the
    sender makes its own, which `aclose` closes."""

    channel = "sms"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        sender: str,
        base_url: str = "https://api.twilio.com",
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not account_sid or not auth_token or not sender:
            raise ValueError("TwilioSmsSender needs an account SID, an auth token and a sender")
        self.account_sid = account_sid
        self.sender = sender
        self.url = f"{base_url.rstrip('/')}/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        self.timeout_s = timeout_s
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout_s, trust_env=False)

    @classmethod
    def from_settings(
        cls, settings: NotifySettings, *, client: httpx.AsyncClient | None = None
    ) -> TwilioSmsSender:
        """The sender configured by ``notify.twilio_*`` (raises ValueError when SMS is off)."""
        return cls(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            sender=settings.twilio_from,
            base_url=settings.twilio_url,
            timeout_s=settings.request_timeout_s,
            client=client,
        )

    async def aclose(self) -> None:
        """Close the HTTP client when the sender made it."""
        if self._own_client:
            await self._client.aclose()

    def form(self, target: SmsTarget, notice: Notice) -> dict[str, str]:
        """The form fields of the Messages request."""
        fields = {"To": target.number, "Body": sms_body(notice)}
        if self.sender.startswith("MG"):
            fields["MessagingServiceSid"] = self.sender
        else:
            fields["From"] = self.sender
        return fields

    async def send(self, target: SmsTarget, notice: Notice) -> str | None:
        """Send ``notice`` to ``target.number``; returns Twilio's message SID (``SM…``)."""
        try:
            response = await self._client.post(
                self.url,
                data=self.form(target, notice),
                auth=self._auth,
                headers={"Accept": "application/json"},
                timeout=self.timeout_s,
                follow_redirects=False,
            )
        except httpx.TimeoutException as exc:
            raise TransientDeliveryError(
                f"Twilio timed out after {self.timeout_s}s: {type(exc).__name__}"
            ) from exc
        except httpx.TransportError as exc:
            raise TransientDeliveryError(
                f"cannot reach Twilio: {type(exc).__name__}: {exc}"
            ) from exc
        status = response.status_code
        if response.is_success:
            try:
                sid = response.json().get("sid")
            except (ValueError, AttributeError):
                sid = None
            logger.info("notifications.sms.sent", key=notice.key, sid=sid, status=status)
            return str(sid) if sid else None
        code, detail = _twilio_error(response)
        message = f"Twilio answered {status}" + (f" (error {code})" if code else "")
        if code in INVALID_NUMBER_CODES:
            message += f": {INVALID_NUMBER_CODES[code]}"
        if detail:
            message += f": {detail}"
        if status == 429 or status >= 500:
            raise TransientDeliveryError(
                message,
                status=status,
                retry_after_s=retry_after_s(response.headers.get("Retry-After")),
            )
        if status in (401, 403):
            message += " (check notify.twilio_account_sid and notify.twilio_auth_token)"
        raise PermanentDeliveryError(message, status=status)


__all__ = ["INVALID_NUMBER_CODES", "MAX_BODY_CHARS", "TwilioSmsSender", "sms_body"]
