"""Camera stream URLs: strict validation, and credentials kept apart from the address.

A camera's address arrives as one URL (``rtsp://admin:secret@cam.example.com:554/stream``).
ORIN stores the address and the credentials separately (the credentials encrypted) and joins
them again only when the ingest process connects. Parsing is deliberately stricter than
RFC 3986: anything another parser (FFmpeg's, the resolver's) could read differently is refused,
so the host checked by the SSRF policy is the host connected to.

Error messages never repeat any part of the input, so they cannot leak a password.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote

from orin.cameras.network_policy import (
    looks_like_ipv4,
    normalise_host_name,
    parse_ipv4_loose,
)

MAX_URL_LENGTH: Final = 2048
MAX_CREDENTIAL_LENGTH: Final = 200
"""Characters in a user name or a password given apart from the URL."""
MAX_JOINED_URL_LENGTH: Final = MAX_URL_LENGTH + 2 * 12 * MAX_CREDENTIAL_LENGTH + 2
"""Longest URL `StreamUrl.with_credentials` can build from a checked URL and such credentials
(a 4-byte character is 12 characters percent-encoded)."""
STREAM_SCHEMES: Final = frozenset({"rtsp", "rtsps"})
DEFAULT_PORTS: Final = {"rtsp": 554, "rtsps": 322}
PASSWORD_MASK: Final = "••••"
"""Shown instead of a password; always the same length, so it does not reveal the real one."""

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_PORT = re.compile(r"[0-9]{1,5}")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})?")
_SECRET_QUERY_KEYS = re.compile(
    r"(?i)(?:pass(?:word|wd)?|pwd|secret|token|key|auth|sig(?:nature)?|credentials?)"
)
_CREDENTIALS_HINT: Final = (
    " If the user name or password contains '@', ':', '/', '?', '#' or '%', enter it in the "
    "credential fields instead, or percent-encode it."
)


class StreamUrlError(ValueError):
    """A camera URL that is not accepted; the message is safe to show and never has secrets."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StreamUrl:
    """A validated camera stream URL, with its credentials split out (percent-decoded)."""

    scheme: str
    """``rtsp``, ``rtsps`` or ``file``."""
    host: str | None
    """Lowercase, IDNA-encoded; IPv4 in dotted-quad form; IPv6 without brackets. ``None`` for
    ``file``."""
    port: int | None
    path: str
    """Path and query as given (``""`` when the URL has none)."""
    username: str | None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return self.masked()

    @property
    def effective_port(self) -> int | None:
        """The port connected to: the URL's, or the scheme's default (``None`` for files)."""
        return self.port if self.port is not None else DEFAULT_PORTS.get(self.scheme)

    def _authority(self, userinfo: str | None) -> str:
        if self.host is None:
            return ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        prefix = f"{userinfo}@" if userinfo is not None else ""
        return f"{prefix}{host}{port}"

    def without_credentials(self) -> str:
        """The URL with no user name or password: safe to store, log and show."""
        return f"{self.scheme}://{self._authority(None)}{self.path}"

    def with_credentials(self, username: str | None, password: str | None) -> str:
        """The URL with ``username`` and ``password`` percent-encoded into it, for connecting.

        An empty user name counts as none. Raises :class:`StreamUrlError` for a ``file`` URL
        given credentials, and for credentials holding control characters (they could inject
        lines into RTSP requests).
        """
        username = username or None
        if username is None and password is None:
            return self.without_credentials()
        if self.host is None:
            raise StreamUrlError("File addresses cannot carry a user name or password.")
        for value in (username, password):
            if value is not None and has_control_character(value):
                raise StreamUrlError(
                    "The user name or password contains a control character or line break."
                )
        userinfo = _encode_credential(username or "")
        if password is not None:
            userinfo += ":" + _encode_credential(password)
        return f"{self.scheme}://{self._authority(userinfo)}{self.path}"

    def masked(self) -> str:
        """The URL for display: user name kept, password and secret-looking query values
        replaced by ``••••`` (``rtsp://admin:••••@cam.example.com:554/stream``)."""
        userinfo: str | None = None
        if self.username is not None or self.password is not None:
            userinfo = _encode_credential(self.username or "")
            if self.password is not None:
                userinfo += ":" + PASSWORD_MASK
        return f"{self.scheme}://{self._authority(userinfo)}{_mask_query(self.path)}"


def _encode_credential(value: str) -> str:
    # Only RFC 3986 unreserved characters stay as they are: every parser agrees on them.
    return quote(value, safe="")


def _has_forbidden_character(text: str) -> bool:
    """Whitespace, control, format (bidi) and unassigned characters: never in a URL."""
    return any(
        char.isspace() or unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
        for char in text
    )


def has_control_character(text: str) -> bool:
    """Control characters, line separators and lone surrogates: never in credentials (they
    could inject lines into RTSP requests). Spaces and other text are fine."""
    return any(unicodedata.category(char) in {"Cc", "Cs", "Zl", "Zp"} for char in text)


def _mask_query(path: str) -> str:
    if "?" not in path:
        return path
    head, query = path.split("?", 1)
    masked = []
    for pair in query.split("&"):
        key, equals, _value = pair.partition("=")
        if equals and _SECRET_QUERY_KEYS.search(key):
            masked.append(f"{key}={PASSWORD_MASK}")
        else:
            masked.append(pair)
    return f"{head}?{'&'.join(masked)}"


def _decode_credential(text: str) -> str:
    """Percent-decode strictly: every ``%`` starts a ``%XX`` escape, the bytes are UTF-8."""
    if any(match.group(1) is None for match in _PERCENT.finditer(text)):
        raise StreamUrlError(
            "A '%' in the user name or password must start an escape such as %40."
            + _CREDENTIALS_HINT
        )
    raw = bytearray()
    index = 0
    while index < len(text):
        if text[index] == "%":
            raw.append(int(text[index + 1 : index + 3], 16))
            index += 3
        else:
            raw.extend(text[index].encode("utf-8"))
            index += 1
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StreamUrlError(
            "The user name or password has percent-escapes that are not valid UTF-8 text."
        ) from None
    if has_control_character(decoded):
        raise StreamUrlError(
            "The user name or password contains a control character or line break."
        )
    return decoded


def _parse_host(text: str, hint: str) -> str:
    """Normalise the host part of an authority (brackets already removed for IPv6)."""
    if not text:
        raise StreamUrlError("The address has no host name." + hint)
    if looks_like_ipv4(text):
        address = parse_ipv4_loose(text.removesuffix("."))
        if address is None:
            raise StreamUrlError("The host looks like an IPv4 address but is not a valid one.")
        return str(address)
    name = normalise_host_name(text)
    if name is None:
        raise StreamUrlError(
            "The host name is not valid: use letters, digits, '-' and '.' only." + hint
        )
    return name


def _split_host_port(hostport: str, hint: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        closing = hostport.find("]")
        if closing < 0:
            raise StreamUrlError("The IPv6 address in the host is missing its closing ']'.")
        inside, rest = hostport[1:closing], hostport[closing + 1 :]
        try:
            host = str(ipaddress.IPv6Address(inside))
        except ValueError:
            raise StreamUrlError("The host is not a valid IPv6 address.") from None
        if "%" in inside:
            raise StreamUrlError("IPv6 zone identifiers (%) are not supported in camera hosts.")
        if rest and not rest.startswith(":"):
            raise StreamUrlError("Only a ':port' may follow an IPv6 address in brackets.")
        port_text = rest[1:] if rest else None
    else:
        if "[" in hostport or "]" in hostport:
            raise StreamUrlError("Square brackets may only enclose an IPv6 address." + hint)
        host_text, colon, port_text_or_empty = hostport.partition(":")
        port_text = port_text_or_empty if colon else None
        host = _parse_host(host_text, hint)
    port: int | None = None
    if port_text is not None:
        if not _PORT.fullmatch(port_text):
            raise StreamUrlError("The port must be a number from 1 to 65535." + hint)
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise StreamUrlError("The port must be a number from 1 to 65535.")
    return host, port


def parse_stream_url(text: str, *, allow_file: bool, max_length: int = MAX_URL_LENGTH) -> StreamUrl:
    """Validate a camera URL and split its credentials out.

    Accepts ``rtsp://`` and ``rtsps://`` URLs with a host, and ``file:///absolute/path`` only
    when ``allow_file`` (administrators' demo cameras). Refuses whitespace and control
    characters, backslashes, fragments, more than one ``@``, empty hosts, bad ports and URLs
    longer than ``max_length`` (2048: what a person may type; a URL ORIN joined with stored
    credentials is parsed with `MAX_JOINED_URL_LENGTH`). Raises :class:`StreamUrlError` with a
    message safe to show.
    """
    if not text:
        raise StreamUrlError("The camera address is empty.")
    if len(text) > max_length:
        raise StreamUrlError(f"The camera address is too long (at most {max_length} characters).")
    if _has_forbidden_character(text):
        raise StreamUrlError("The camera address contains spaces or control characters.")
    if "\\" in text:
        raise StreamUrlError("The camera address contains a backslash.")
    scheme_match = _SCHEME.match(text)
    if scheme_match is None:
        raise StreamUrlError("The camera address must start with rtsp:// or rtsps://.")
    scheme = scheme_match.group(1).lower()
    allowed = (STREAM_SCHEMES | {"file"}) if allow_file else STREAM_SCHEMES
    if scheme not in allowed:
        raise StreamUrlError(
            "Only rtsp:// and rtsps:// camera addresses are supported"
            + (", and file:// for administrators." if allow_file else ".")
        )
    rest = text[scheme_match.end() :]
    if not rest.startswith("//"):
        raise StreamUrlError(f"The camera address must start with {scheme}:// (two slashes).")
    rest = rest[2:]
    hint = _CREDENTIALS_HINT if "@" in rest else ""
    if "#" in rest:
        raise StreamUrlError("The camera address must not contain '#' (a fragment)." + hint)
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, path = rest[:end], rest[end:]

    if scheme == "file":
        if authority:
            raise StreamUrlError(
                "A file address has no host: write file:///absolute/path/to/video."
            )
        if not path.startswith("/") or path.startswith("//"):
            raise StreamUrlError("A file address needs an absolute path: file:///path/to/video.")
        return StreamUrl(scheme, None, None, path, None, None)

    if authority.count("@") > 1:
        raise StreamUrlError("The camera address has more than one '@'." + _CREDENTIALS_HINT)
    userinfo, at, hostport = authority.rpartition("@")
    username: str | None = None
    password: str | None = None
    if at:
        if not userinfo:
            raise StreamUrlError("The camera address has an '@' but no user name before it.")
        user_text, colon, password_text = userinfo.partition(":")
        username = _decode_credential(user_text) or None
        password = _decode_credential(password_text) if colon else None
        if not hostport:
            raise StreamUrlError("The camera address has a user name but no host after it.")
    host, port = _split_host_port(hostport, hint)
    return StreamUrl(scheme, host, port, path, username, password)
