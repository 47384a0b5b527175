"""Spaces: places a user watches, their members and invitations."""
