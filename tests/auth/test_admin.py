"""The admin role: given from the CLI, required for the audit log endpoint."""

from __future__ import annotations

import asyncio

import httpx
from typer.testing import CliRunner, Result

from orin.cli.keys import keys_cli
from orin.cli.users import users_cli
from orin.config import Settings
from tests.auth.conftest import sign_up


async def set_role(email: str, role: str, env: dict[str, str]) -> Result:
    """Run `orin users set-role` (in a thread: the command runs its own event loop)."""

    def invoke() -> Result:
        return CliRunner().invoke(users_cli, ["set-role", email, role], env=env)

    return await asyncio.to_thread(invoke)


async def test_audit_log_is_for_admins_only_and_records_auth_events(
    client: httpx.AsyncClient, auth_settings: Settings
) -> None:
    admin = await sign_up(client)
    user = await sign_up(client)
    env = {
        "ORIN_DATABASE_URL": auth_settings.database_url,
        "ORIN_DATA_DIR": str(auth_settings.data_dir),
    }
    promoted = await set_role(admin.email, "admin", env)
    assert promoted.exit_code == 0, promoted.output
    assert "is now admin" in promoted.output

    assert (await client.get("/api/v1/admin/audit", headers=user.auth)).status_code == 403
    assert (await client.get("/api/v1/admin/audit")).status_code == 401

    await client.post("/api/v1/auth/login", json={"email": user.email, "password": "nope-Nope-1"})
    page = await client.get(
        "/api/v1/admin/audit", params={"target_id": user.user_id}, headers=admin.auth
    )
    assert page.status_code == 200, page.text
    actions = [item["action"] for item in page.json()["items"]]
    assert actions[:2] == ["auth.login_failed", "auth.register"]

    roles = await client.get(
        "/api/v1/admin/audit",
        params={"action": "user.role_changed", "limit": 1},
        headers=admin.auth,
    )
    assert roles.json()["items"][0]["target_id"] == admin.user_id


async def test_unknown_account_for_set_role_is_one_line(auth_settings: Settings) -> None:
    env = {"ORIN_DATABASE_URL": auth_settings.database_url}
    result = await set_role("nobody@example.com", "admin", env)
    assert result.exit_code == 3
    assert "no account" in result.output


async def test_cli_rotation_is_picked_up_by_the_running_api(
    client: httpx.AsyncClient, auth_settings: Settings
) -> None:
    user = await sign_up(client)
    env = {"ORIN_DATABASE_URL": auth_settings.database_url}

    def invoke() -> Result:
        return CliRunner().invoke(keys_cli, ["rotate-signing-key"], env=env)

    result = await asyncio.to_thread(invoke)
    assert result.exit_code == 0, result.output
    assert "signing key rotated" in result.output
    # The old token still verifies after the rotation.
    assert (await client.get("/api/v1/user/me", headers=user.auth)).status_code == 200
