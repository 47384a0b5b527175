"""`/api/v1/admin/users`: list, search, pages; disable, enable and plan changes, audited."""

from __future__ import annotations

import uuid

from tests.fixtures.api import STRONG_PASSWORD, Api, Person


async def sign_up_with_refresh(api: Api, email: str | None = None) -> tuple[Person, str]:
    """A new account through the API, with its refresh token."""
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    response = await api.http.post(
        "/api/v1/auth/register", json={"email": email, "password": STRONG_PASSWORD}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    person = Person(api, email, body["user"]["id"], body["access_token"])
    api.people.append(person)
    return person, body["refresh_token"]


async def audit_actions(admin: Person, target_id: str) -> list[dict[str, object]]:
    response = await admin.get("/api/v1/admin/audit", params={"target_id": target_id})
    assert response.status_code == 200, response.text
    return [item for item in response.json()["items"] if item["action"].startswith("admin.")]


async def test_users_are_listed_oldest_first_in_pages_and_searched_by_email(api: Api) -> None:
    admin = await api.sign_up(admin=True)
    tag = uuid.uuid4().hex[:8]
    mine = [(await sign_up_with_refresh(api, f"Pat.{tag}.{n}@Example.com"))[0] for n in range(5)]
    other = await api.sign_up()

    found = await admin.get("/api/v1/admin/users", params={"email": tag.upper(), "limit": 50})
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    assert [item["id"] for item in items] == [person.user_id for person in mine]
    assert found.json()["next_cursor"] is None
    first = items[0]
    assert first["email"] == f"Pat.{tag}.0@example.com"
    assert first["role"] == "user"
    assert first["plan"] == "free"
    assert first["disabled"] is False
    assert first["email_verified"] is False
    assert first["mfa_enabled"] is False
    assert first["last_seen_at"] is not None

    pages: list[str] = []
    cursor = None
    while True:
        params = {"email": tag, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await admin.get("/api/v1/admin/users", params=params)).json()
        assert len(page["items"]) <= 2
        pages.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [person.user_id for person in mine]

    for person in (admin, other):  # the database holds other tests' users too
        hit = await admin.get("/api/v1/admin/users", params={"email": person.email})
        assert person.user_id in {item["id"] for item in hit.json()["items"]}

    # LIKE wildcards in the search are taken literally.
    wild = await admin.get("/api/v1/admin/users", params={"email": f"{tag}%"})
    assert wild.json()["items"] == []
    underscore = await admin.get("/api/v1/admin/users", params={"email": f"pat_{tag}"})
    assert underscore.json()["items"] == []


async def test_disabling_signs_the_user_out_at_once_and_enabling_lets_them_back(
    api: Api,
) -> None:
    admin = await api.sign_up(admin=True)
    user, refresh_token = await sign_up_with_refresh(api)
    assert (await user.get("/api/v1/user/me")).status_code == 200

    response = await admin.patch(f"/api/v1/admin/users/{user.user_id}", json={"disabled": True})
    assert response.status_code == 200, response.text
    assert response.json()["disabled"] is True

    me = await user.get("/api/v1/user/me")
    assert me.status_code == 401
    assert me.headers["content-type"].startswith("application/problem+json")
    refreshed = await api.http.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    assert refreshed.status_code == 401, refreshed.text
    login = await api.http.post(
        "/api/v1/auth/login", json={"email": user.email, "password": STRONG_PASSWORD}
    )
    assert login.status_code == 403, login.text
    assert login.json()["type"].endswith("account-disabled")

    listed = await admin.get("/api/v1/admin/users", params={"email": user.email})
    assert listed.json()["items"][0]["disabled"] is True

    enabled = await admin.patch(f"/api/v1/admin/users/{user.user_id}", json={"disabled": False})
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["disabled"] is False
    login = await api.http.post(
        "/api/v1/auth/login", json={"email": user.email, "password": STRONG_PASSWORD}
    )
    assert login.status_code == 200, login.text

    entries = await audit_actions(admin, user.user_id)
    assert [entry["action"] for entry in entries] == ["admin.user_enabled", "admin.user_disabled"]
    disabled_entry = entries[1]
    assert disabled_entry["actor_id"] == admin.user_id
    assert disabled_entry["details"] == {"sessions_revoked": 1}


async def test_an_admin_changes_a_plan_and_it_is_audited(api: Api) -> None:
    admin = await api.sign_up(admin=True)
    user = await api.sign_up()
    response = await admin.patch(f"/api/v1/admin/users/{user.user_id}", json={"plan": "pro"})
    assert response.status_code == 200, response.text
    assert response.json()["plan"] == "pro"
    assert response.json()["disabled"] is False
    subscription = await user.get("/api/v1/user/me/subscription")
    assert subscription.json()["plan"] == "pro"
    # The user is still signed in: a plan change is not a disable.
    assert (await user.get("/api/v1/user/me")).status_code == 200

    same = await admin.patch(f"/api/v1/admin/users/{user.user_id}", json={"plan": "pro"})
    assert same.status_code == 200
    entries = await audit_actions(admin, user.user_id)
    assert [(entry["action"], entry["details"]) for entry in entries] == [
        ("admin.user_plan_changed", {"from": "free", "to": "pro"})
    ]


async def test_an_admin_cannot_disable_themselves(api: Api) -> None:
    admin = await api.sign_up(admin=True)
    response = await admin.patch(f"/api/v1/admin/users/{admin.user_id}", json={"disabled": True})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await admin.get("/api/v1/user/me")).status_code == 200
    # Changing their own plan is fine.
    own_plan = await admin.patch(f"/api/v1/admin/users/{admin.user_id}", json={"plan": "business"})
    assert own_plan.status_code == 200, own_plan.text


async def test_bad_input_is_refused_as_problems(api: Api) -> None:
    admin = await api.sign_up(admin=True)
    user = await api.sign_up()
    url = f"/api/v1/admin/users/{user.user_id}"
    bodies: list[dict[str, object]] = [
        {},
        {"plan": "gold"},
        {"disabled": None},
        {"role": "admin"},
        {"disabled": []},
    ]
    for body in bodies:
        response = await admin.patch(url, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    missing = await admin.patch("/api/v1/admin/users/" + "0" * 32, json={"plan": "pro"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    too_long = await admin.patch("/api/v1/admin/users/" + "0" * 33, json={"plan": "pro"})
    assert too_long.status_code == 422
    for params in ({"limit": 0}, {"limit": 201}, {"email": ""}):
        response = await admin.get("/api/v1/admin/users", params=params)
        assert response.status_code == 422, (params, response.text)
    cursor = await admin.get("/api/v1/admin/users", params={"cursor": "not-a-cursor"})
    assert cursor.status_code == 400
    for window in ("31d", "0h", "week", "10m"):
        response = await admin.get("/api/v1/admin/analytics", params={"window": window})
        assert response.status_code == 422, (window, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
