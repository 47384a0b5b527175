"""Every admin endpoint: 401 without a token, 403 for a user, and problem+json both times."""

from __future__ import annotations

import pytest

from tests.fixtures.api import Api

ENDPOINTS = [
    ("GET", "/api/v1/admin/audit", None),
    ("GET", "/api/v1/admin/analytics", None),
    ("GET", "/api/v1/admin/system", None),
    ("GET", "/api/v1/admin/users", None),
    ("PATCH", "/api/v1/admin/users/{target}", {"plan": "pro"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_admin_endpoints_are_for_admins_only(
    api: Api, method: str, path: str, body: dict[str, str] | None
) -> None:
    user = await api.sign_up()
    target = await api.sign_up()
    url = path.format(target=target.user_id)
    anonymous = await api.http.request(method, url, json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    forbidden = await user.request(method, url, json=body)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("application/problem+json")
    assert target.email not in forbidden.text
    if method == "PATCH":
        me = await target.get("/api/v1/user/me/subscription")
        assert me.json()["plan"] == "free"
