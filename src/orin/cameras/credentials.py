"""Camera credentials: split out of URLs, sealed with envelope encryption, never shown whole.

The database keeps each stream URL without its userinfo and one sealed JSON document with the
user names and passwords of both streams. Only `full_url` (for the ingest process) puts them
back together; the API shows `masked_url`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from orin.cameras.stream_url import MAX_JOINED_URL_LENGTH, StreamUrl, parse_stream_url
from orin.kit.envelope import Envelope
from orin.models.camera import Camera

Stream = Literal["main", "detect"]


@dataclass(frozen=True, slots=True)
class Login:
    username: str | None
    password: str | None

    @property
    def empty(self) -> bool:
        return not self.username and not self.password

    @property
    def pair(self) -> tuple[str | None, str | None]:
        return self.username, self.password


def _purpose(camera_id: str) -> str:
    return f"camera-credentials:{camera_id}"


def seal_logins(envelope: Envelope, camera_id: str, logins: dict[Stream, Login]) -> str | None:
    """The sealed form of the non-empty logins, or None when there are none."""
    document = {
        stream: {"username": login.username, "password": login.password}
        for stream, login in logins.items()
        if not login.empty
    }
    if not document:
        return None
    return envelope.seal(json.dumps(document).encode(), purpose=_purpose(camera_id))


def open_logins(envelope: Envelope, camera: Camera) -> dict[Stream, Login]:
    if not camera.credentials_sealed:
        return {}
    raw = envelope.open(camera.credentials_sealed, purpose=_purpose(camera.id))
    document = json.loads(raw)
    return {
        stream: Login(value.get("username"), value.get("password"))
        for stream, value in document.items()
        if stream in ("main", "detect")
    }


def rewrap(envelope: Envelope, camera: Camera) -> bool:
    """Re-wrap the camera's data key under the active key; True when it changed."""
    if not camera.credentials_sealed or not envelope.needs_rewrap(camera.credentials_sealed):
        return False
    camera.credentials_sealed = envelope.rewrap(
        camera.credentials_sealed, purpose=_purpose(camera.id)
    )
    return True


def _stored(envelope: Envelope, camera: Camera, stream: Stream) -> tuple[StreamUrl, Login] | None:
    text = camera.main_url if stream == "main" else camera.detect_url
    if text is None:
        return None
    login = open_logins(envelope, camera).get(stream) or Login(None, None)
    return parse_stream_url(text, allow_file=True), login


def full_url(envelope: Envelope, camera: Camera, stream: Stream = "main") -> str | None:
    """The stream URL with its credentials, for the process that connects to the camera."""
    stored = _stored(envelope, camera, stream)
    if stored is None:
        return None
    url, login = stored
    return url.without_credentials() if login.empty else url.with_credentials(*login.pair)


def masked_url(envelope: Envelope, camera: Camera, stream: Stream = "main") -> str | None:
    """The stream URL with the user name and a masked password: safe to show."""
    full = full_url(envelope, camera, stream)
    if full is None:
        return None
    return parse_stream_url(full, allow_file=True, max_length=MAX_JOINED_URL_LENGTH).masked()


def split_login(url: StreamUrl, username: str | None, password: str | None) -> Login:
    """Credentials given separately win over those inside the URL."""
    if username is not None or password is not None:
        return Login(username or None, password or None)
    return Login(url.username, url.password)
