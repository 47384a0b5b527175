"""What each role may do. One table, so every endpoint asks the same question the same way."""

from __future__ import annotations

from enum import StrEnum

from orin.models.camera import ShareRole
from orin.models.space import SpaceRole


class Capability(StrEnum):
    VIEW = "view"
    """See the thing, its live view, recordings and events."""
    REVIEW = "review"
    """Mark catches seen / confirmed / false alarm / resolved, add notes."""
    MANAGE = "manage"
    """Add, change and remove cameras and guards; share cameras."""
    ADMINISTER = "administer"
    """Change or delete the space, manage its members and invitations."""


_SPACE_ROLES: dict[SpaceRole, frozenset[Capability]] = {
    SpaceRole.OWNER: frozenset(Capability),
    SpaceRole.MANAGER: frozenset({Capability.VIEW, Capability.REVIEW, Capability.MANAGE}),
    SpaceRole.VIEWER: frozenset({Capability.VIEW, Capability.REVIEW}),
}

_SHARE_ROLES: dict[ShareRole, frozenset[Capability]] = {
    # A camera shared on its own never reaches its space: a share manager edits that camera
    # (name, zones, masks) but cannot delete it, share it on, or see the space's guards.
    ShareRole.MANAGER: frozenset({Capability.VIEW, Capability.REVIEW, Capability.MANAGE}),
    ShareRole.VIEWER: frozenset({Capability.VIEW, Capability.REVIEW}),
}


def allows(role: SpaceRole | ShareRole, capability: Capability) -> bool:
    """Whether ``role`` grants ``capability``."""
    if isinstance(role, SpaceRole):
        return capability in _SPACE_ROLES[role]
    return capability in _SHARE_ROLES[role]
