"""Reading *how loudly* and *where to*: severity words and notification channels."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from orin.guards.rule import Channel, Severity
from orin.guards.scan import Scan

__all__ = ["Alerting", "read_alerting"]


def _compile(source: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w'])(?:{source})(?![\w'])")


_SEVERITIES: tuple[tuple[Severity, re.Pattern[str]], ...] = (
    # "not urgent" before "urgent".
    (
        Severity.INFO,
        _compile(
            r"not\s+urgent|no\s+rush|no\s+hurry|low\s+priority|low\s+severity|fyi|f\.y\.i\."
            r"|for\s+(?:my\s+|your\s+)?information|just\s+(?:let\s+me\s+know|tell\s+me"
            r"|so\s+i\s+know|a\s+heads?\s*-?\s*up|inform\s+me|fyi|note\s+it|log\s+it)"
            r"|(?:a\s+)?heads?\s*-?\s*up|quietly|info(?:rmational)?\s+only"
        ),
    ),
    (
        Severity.CRITICAL,
        _compile(
            r"urgent(?:ly)?|critical(?:ly)?|immediately|emergency|asap|a\.s\.a\.p\.?|right\s+away"
            r"|straight\s+away|at\s+once|high\s+priority|top\s+priority|important|high\s+severity"
            r"|wake\s+me(?:\s+up)?"
        ),
    ),
    (Severity.WARNING, _compile(r"(?:medium|normal)\s+(?:priority|severity)|as\s+a\s+warning")),
)
_CHANNELS: tuple[tuple[Channel, re.Pattern[str]], ...] = (
    (
        "sms",
        _compile(
            r"(?:text|txt)\s+(?:me|us)|send\s+(?:me\s+|us\s+)?(?:a\s+|an\s+)?(?:text|sms)"
            r"(?:\s+message)?|(?:by|via|over|through)\s+(?:text|sms)(?:\s+message)?|sms"
            r"|text\s+messages?"
        ),
    ),
    (
        "email",
        _compile(
            r"send\s+(?:me\s+|us\s+)?(?:an\s+)?e-?mail|(?:by|via|over|through)\s+e-?mail"
            r"|e-?mail(?:\s+(?:me|us))?|mail\s+(?:me|us)"
        ),
    ),
    (
        "push",
        _compile(
            r"(?:send\s+(?:me\s+)?(?:a\s+)?)?push(?:\s+notifications?|\s+alerts?|\s+messages?)?"
            r"|(?:on|to)\s+(?:my|the)\s+(?:phone|app|mobile|tablet)|in\s+the\s+app"
            r"|app\s+notifications?"
        ),
    ),
    (
        "webhook",
        _compile(
            r"(?:(?:call|trigger|hit|post\s+to|send\s+to|via|using|through)\s+)?"
            r"(?:(?:the|a|my|our)\s+)?web\s*-?\s*hooks?"
        ),
    ),
)
_CALLS = _compile(r"(?:call|phone|ring)\s+(?:me|us)|(?:a\s+)?phone\s+call")
_OTHER_APPS = _compile(
    r"(?:via|on|through|using|by|in|to)\s+(slack|telegram|whatsapp|discord|teams|signal|alexa)"
)
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
_SEVERITY_MEANINGS = {
    Severity.INFO: "severity info (a quiet notice)",
    Severity.WARNING: "severity warning",
    Severity.CRITICAL: "severity critical (urgent)",
}
_CHANNEL_MEANINGS: dict[Channel, str] = {
    "sms": "notify by SMS",
    "email": "notify by email",
    "push": "notify by push notification",
    "webhook": "call the webhook",
}


@dataclass
class Alerting:
    """Severity and channels an instruction asks for."""

    severity: Severity | None = None
    channels: list[Channel] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_alerting(scan: Scan) -> Alerting:
    """Consume severity and channel phrases from ``scan``."""
    found = Alerting()
    named: list[Severity] = []
    for severity, pattern in _SEVERITIES:
        for match in scan.finditer(pattern):
            named.append(severity)
            scan.consume(match.start(), match.end(), _SEVERITY_MEANINGS[severity])
    if named:
        found.severity = max(named, key=_RANK.__getitem__)
        if len(set(named)) > 1:
            found.warnings.append(
                f"the instruction asks for more than one severity: {found.severity} is used"
            )
    for match in scan.finditer(_CALLS):
        found.warnings.append("phone calls are not supported: push, email, sms or webhook")
        scan.consume(match.start(), match.end())
    for match in scan.finditer(_OTHER_APPS):
        found.warnings.append(
            f"{match[1].capitalize()} is not a notification channel yet: "
            "use a webhook, push, email or sms"
        )
        scan.consume(match.start(), match.end())
    for channel, pattern in _CHANNELS:
        for match in scan.finditer(pattern):
            if channel not in found.channels:
                found.channels.append(channel)
            scan.consume(match.start(), match.end(), _CHANNEL_MEANINGS[channel])
    return found
