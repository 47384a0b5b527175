"""`orin keys …`: rotating the keys ORIN signs with."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from orin.audit import record
from orin.auth.keys import KeyRing
from orin.cli.errors import plain_errors
from orin.config import Settings, load_settings
from orin.db import Database

keys_cli = typer.Typer(
    name="keys",
    help="Rotate signing keys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@keys_cli.callback()
def keys() -> None:
    """Rotate signing keys."""


async def _rotate(settings: Settings) -> tuple[str, str]:
    database = Database(settings)
    try:
        await database.ping()
        ring = KeyRing(database, settings.auth)
        await ring.start()
        old = ring.signer.kid
        new = await ring.rotate()
        async with database.transaction() as session:
            await record(
                session,
                action="auth.signing_key_rotated",
                actor_id=None,
                target_type="signing_key",
                target_id=new[:64],
                details={"previous": old, "by": "cli"},
            )
        return old, new
    finally:
        await database.dispose()


@keys_cli.command("rotate-signing-key")
@plain_errors
def rotate_signing_key() -> None:
    """Sign new access tokens with a fresh RSA key; the old one verifies until its tokens
    expire (API replicas pick the new key up within a minute)."""
    old, new = asyncio.run(_rotate(load_settings(process_role="cli")))
    Console().print(f"signing key rotated: {old} → {new}")
