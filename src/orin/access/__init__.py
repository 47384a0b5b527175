"""Who may see and change what: space roles, camera shares, and the 404-for-strangers rule."""

from orin.access.policy import Capability, allows
from orin.access.resolve import (
    CameraAccess,
    SpaceAccess,
    camera_for,
    event_scope,
    guard_for,
    space_for,
    visible_camera_ids,
    visible_space_ids,
)

__all__ = [
    "CameraAccess",
    "Capability",
    "SpaceAccess",
    "allows",
    "camera_for",
    "event_scope",
    "guard_for",
    "space_for",
    "visible_camera_ids",
    "visible_space_ids",
]
