"""`orin keys …`: rotating the keys ORIN signs with."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from orin.audit import record
from orin.auth.keys import KeyRing
from orin.cli.errors import plain_errors
from orin.config import Settings, load_settings
from orin.runtime.infrastructure import Infrastructure
from orin.security.key_rotation import RotationReport, rewrap_all

keys_cli = typer.Typer(
    name="keys",
    help="Rotate signing keys and the keys that seal secrets at rest.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@keys_cli.callback()
def keys() -> None:
    """Rotate signing keys and the keys that seal secrets at rest."""


async def _rotate(settings: Settings) -> tuple[str, str]:
    infra = Infrastructure.from_settings(settings)
    database = infra.database
    try:
        await database.ping()
        ring = KeyRing(database, settings.auth, envelope=infra.envelope)
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


async def _rewrap(settings: Settings) -> tuple[str, RotationReport]:
    infra = Infrastructure.from_settings(settings)
    database = infra.database
    try:
        await database.ping()
        envelope = infra.envelope
        report = await rewrap_all(database, envelope)
        async with database.transaction() as session:
            await record(
                session,
                action="crypto.keys_rotated",
                actor_id=None,
                target_type="kek",
                target_id=envelope.active_id[:64],
                details={
                    "cameras": report.cameras,
                    "signing_keys": report.signing_keys,
                    "unreadable": len(report.unreadable),
                },
            )
        return envelope.active_id, report
    finally:
        await database.dispose()


@keys_cli.command("rotate")
@plain_errors
def rotate() -> None:
    """Re-wrap every sealed secret (camera credentials, signing keys) under the active
    key-encryption key, `ORIN_CRYPTO_ACTIVE_KEY`. Run it after adding a new key to
    `ORIN_CRYPTO_KEYS` and making it active; remove the old key only afterwards."""
    active, report = asyncio.run(_rewrap(load_settings(process_role="cli")))
    console = Console()
    console.print(
        f"re-wrapped under {active}: {report.cameras} camera credential(s), "
        f"{report.signing_keys} signing key(s)"
    )
    if report.unreadable:
        console.print(
            f"{len(report.unreadable)} secret(s) are sealed under keys that are not configured "
            "and were left as they are: " + ", ".join(report.unreadable[:20])
        )
        raise typer.Exit(1)
