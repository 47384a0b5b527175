"""`orin audit …`: checking the audit log from the command line."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from orin.audit import ChainReport, verify_chain
from orin.cli.errors import plain_errors
from orin.config import Settings, load_settings
from orin.db import Database, safe_url
from orin.errors import AdapterUnavailable
from orin.observability.logging import configure_logging

audit_cli = typer.Typer(
    name="audit",
    help="Check the tamper-evident audit log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@audit_cli.callback()
def audit() -> None:
    """Check the tamper-evident audit log."""
    # A callback keeps `audit` a command group even while it has a single command, so the
    # app invoked on its own and mounted under `orin` both take `verify` as a subcommand.


async def _verify(settings: Settings, batch_size: int) -> ChainReport:
    database = Database(settings)
    try:
        await database.ping()
        try:
            # Read-only: on SQLite the check then never holds the write lock, so a running
            # ORIN keeps writing while a long log is read.
            async with database.reading() as session:
                return await verify_chain(session, batch_size=batch_size)
        except SQLAlchemyError as exc:
            # A reachable database without the table (not migrated) and the like: one line.
            cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise AdapterUnavailable(
                f"reading the audit log from {safe_url(settings.database_url)} failed: "
                f"{cause[0] if cause else type(exc).__name__}"
            ) from exc
    finally:
        await database.dispose()


@audit_cli.command()
@plain_errors
def verify(
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Entries read per query.")
    ] = 1000,
) -> None:
    """Recompute every audit entry's hash and link; exit 1 if the chain is broken."""
    settings = load_settings(process_role="audit")
    configure_logging(settings.log, role="audit")
    report = asyncio.run(_verify(settings, batch_size))
    if report.ok:
        typer.echo(f"audit chain ok: {report.entries_checked} entries")
        if report.head_seq is not None:
            typer.echo(f"head: entry {report.head_seq}, hash {report.head_hash}")
        return
    typer.echo(f"audit chain BROKEN at {report.problem}")
    typer.echo(
        f"{report.bad_entries} of {report.entries_checked} entries failed the check; "
        "each entry after a break is checked against its own predecessor"
    )
    raise SystemExit(1)
