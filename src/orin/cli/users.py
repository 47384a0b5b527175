"""`orin users …`: account administration from the command line (e.g. the first admin)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from orin.audit import record
from orin.auth import repository
from orin.auth.emails import normalize_email
from orin.cli.errors import plain_errors
from orin.config import Settings, load_settings
from orin.db import Database
from orin.errors import NotFound
from orin.models.user import UserRole

users_cli = typer.Typer(
    name="users",
    help="Administer accounts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@users_cli.callback()
def users() -> None:
    """Administer accounts."""


async def _set_role(settings: Settings, email: str, role: UserRole) -> str:
    database = Database(settings)
    try:
        await database.ping()
        async with database.transaction() as session:
            user = await repository.user_by_email(session, normalize_email(email))
            if user is None:
                raise NotFound(f"no account with the email address {email!r}")
            previous = user.role
            user.role = role
            await record(
                session,
                action="user.role_changed",
                actor_id=None,
                target_type="user",
                target_id=user.id,
                details={"from": str(previous), "to": str(role), "by": "cli"},
            )
            return user.id
    finally:
        await database.dispose()


@users_cli.command("set-role")
@plain_errors
def set_role(
    email: Annotated[str, typer.Argument(help="The account's email address.")],
    role: Annotated[UserRole, typer.Argument(help="`admin` or `user`.")],
) -> None:
    """Give an account the admin role (or take it away); audited."""
    settings = load_settings(process_role="cli")
    user_id = asyncio.run(_set_role(settings, email, role))
    Console().print(f"{email} ({user_id}) is now {role.value}")
