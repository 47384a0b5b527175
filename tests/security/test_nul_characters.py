"""NUL characters (U+0000) are refused with 422 wherever they arrive, on both adapter sets."""

from __future__ import annotations

from collections.abc import AsyncIterator

from tests.fixtures.api import Api


def is_nul_problem(status: int, body: dict[str, object]) -> bool:
    return status == 422 and str(body["type"]).endswith("/nul-character")


async def test_a_nul_in_a_body_split_across_chunks_is_refused_and_nothing_is_stored(
    api: Api,
) -> None:
    alice = await api.sign_up()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "Home \\u00'
        yield b'00", "timezone": "UTC"}'

    response = await alice.post(
        "/api/v1/spaces", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert is_nul_problem(response.status_code, response.json()), response.text
    assert (await alice.get("/api/v1/spaces")).json()["items"] == []


async def test_the_text_backslash_u0000_is_not_a_nul(api: Api) -> None:
    alice = await api.sign_up()
    response = await alice.post(
        "/api/v1/spaces",
        content=b'{"name": "C:\\\\u0000 drive", "timezone": "UTC"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "C:\\u0000 drive"


async def test_a_nul_in_the_path_query_or_a_form_is_refused(api: Api) -> None:
    alice = await api.sign_up()
    in_query = await alice.get("/api/v1/events", params={"q": "door\x00"})
    assert is_nul_problem(in_query.status_code, in_query.json()), in_query.text
    in_path = await alice.get("/api/v1/cameras/abc%00def")
    assert is_nul_problem(in_path.status_code, in_path.json()), in_path.text
    in_form = await api.http.post(
        "/api/v1/auth/oauth/google/callback",
        content=b"code=a%00b&state=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert is_nul_problem(in_form.status_code, in_form.json()), in_form.text
