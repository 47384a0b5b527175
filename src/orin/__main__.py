"""`orin`: the one command that starts every ORIN process role."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from orin.cli.audit import audit_cli
from orin.cli.detector import detector as detector_command
from orin.cli.errors import plain_errors
from orin.cli.keys import keys_cli
from orin.cli.users import users_cli
from orin.config import Settings, load_settings

cli = typer.Typer(
    name="orin",
    help="ORIN: AI video surveillance. `orin run` starts everything on this machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

cli.add_typer(audit_cli, name="audit")
cli.add_typer(users_cli, name="users")
cli.add_typer(keys_cli, name="keys")

HostOption = Annotated[
    str | None, typer.Option("--host", help="Interface to bind (default 127.0.0.1; ORIN_API_HOST).")
]
PortOption = Annotated[
    int | None, typer.Option("--port", help="Port to listen on (default 8000; ORIN_API_PORT).")
]


def _settings(role: str, host: str | None = None, port: int | None = None) -> Settings:
    overrides: dict[str, Any] = {"process_role": role}
    api: dict[str, Any] = {}
    if host is not None:
        api["host"] = host
    if port is not None:
        api["port"] = port
    if api:
        overrides["api"] = api
    return load_settings(**overrides)


def _migrate(settings: Settings, revision: str = "head") -> None:
    from orin.migrate import upgrade

    try:
        upgrade(settings.database_url, revision)
    except Exception as exc:  # Alembic wraps driver errors; report the root cause only
        from orin.db import safe_url
        from orin.errors import AdapterUnavailable

        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise AdapterUnavailable(
            f"migrating {safe_url(settings.database_url)} failed: "
            f"{cause[0] if cause else type(exc).__name__}"
        ) from exc


@cli.command()
@plain_errors
def run(
    host: HostOption = None,
    port: PortOption = None,
    processes: Annotated[
        bool, typer.Option("--processes", help="Run each role as a supervised child process.")
    ] = False,
) -> None:
    """Run all of ORIN on this machine (embedded adapters unless settings say otherwise)."""
    settings = _settings("run", host, port)
    _migrate(settings)
    if processes:
        from orin.cli.supervisor import Supervisor
        from orin.observability.logging import configure_logging

        configure_logging(settings.log, role="supervisor")
        raise SystemExit(Supervisor(settings, list(settings.supervisor.roles)).run())
    from orin.cli.serve import serve_api
    from orin.runtime.process import ALL_ROLES

    asyncio.run(serve_api(settings, ALL_ROLES, banner=True))


@cli.command()
@plain_errors
def api(host: HostOption = None, port: PortOption = None) -> None:
    """Serve the HTTP API (REST, WebSocket, media, metrics)."""
    from orin.cli.serve import serve_api

    asyncio.run(serve_api(_settings("api", host, port), ("api",)))


@cli.command()
@plain_errors
def worker() -> None:
    """Consume background tasks and relay the outbox to the bus."""
    from orin.cli.serve import serve_background

    asyncio.run(serve_background(_settings("worker"), ("worker",)))


@cli.command()
@plain_errors
def scheduler() -> None:
    """Send periodic jobs (one leader at a time)."""
    from orin.cli.serve import serve_background

    asyncio.run(serve_background(_settings("scheduler"), ("scheduler",)))


@cli.command()
@plain_errors
def ingest() -> None:
    """Run cameras: one FFmpeg per leased camera for live view, recording and detection."""
    from orin.cli.serve import serve_background

    asyncio.run(serve_background(_settings("ingest"), ("ingest",)))


cli.command(name="detector")(detector_command)


@cli.command()
@plain_errors
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply database migrations (SQLite or PostgreSQL) and exit."""
    _migrate(_settings("migrate"), revision)
    Console().print(f"database migrated to {revision}")


@cli.command()
@plain_errors
def doctor() -> None:
    """Check FFmpeg, the data folder, settings and every service; say how to fix problems."""
    from orin.cli.doctor import run_checks

    console = Console()
    settings = _settings("doctor")
    console.print("[green]✓[/] settings are valid")
    findings = run_checks(settings)
    table = Table("", "check", "detail", "how to fix")
    for finding in findings:
        mark = "[green]✓[/]" if finding.ok else "[red]✗[/]"
        table.add_row(mark, finding.check, finding.detail, finding.fix)
    console.print(table)
    failed = [finding.check for finding in findings if not finding.ok]
    if failed:
        console.print(f"[red]{len(failed)} problem(s):[/] {', '.join(failed)}")
        raise SystemExit(1)
    console.print("[green]everything ORIN needs is here[/]")


def main() -> None:
    """Entry point of the `orin` script."""
    cli()


if __name__ == "__main__":
    main()
