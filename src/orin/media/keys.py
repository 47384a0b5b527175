"""Object-key layout: everything of a space lives under its prefix, so it can go in one sweep.

``spaces/<space>/cameras/<camera>/events/<event>/<name>``; exports under ``exports/<user>/``.
"""

from __future__ import annotations


def space_prefix(space_id: str) -> str:
    return f"spaces/{space_id}/"


def camera_prefix(space_id: str, camera_id: str) -> str:
    return f"{space_prefix(space_id)}cameras/{camera_id}/"


def event_media_key(space_id: str, camera_id: str, event_id: str, name: str) -> str:
    """Key of one media file of an event (``snapshot.jpg``, ``thumbnail.jpg``, ``clip.mp4``)."""
    return f"{camera_prefix(space_id, camera_id)}events/{event_id}/{name}"


def export_prefix(user_id: str) -> str:
    return f"exports/{user_id}/"
