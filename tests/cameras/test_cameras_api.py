"""The cameras API on both adapter sets: sealed and masked credentials, the URL policy,
zones and masks, shares with expiry, plan limits and key rotation."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from orin.cameras.credentials import full_url
from orin.cli.keys import keys_cli
from orin.config import AuthSettings, CameraSettings, CryptoSettings, DatabaseSettings, Settings
from orin.kit.envelope import KeyEncryptionKeys
from orin.migrate import upgrade
from orin.models.base import utcnow
from orin.models.camera import Camera, CameraShare
from orin.models.signing_key import SigningKey
from tests.fixtures.api import LOCAL_CAMERA, Api, open_api

SQUARE = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]


async def raw_camera_row(api: Api, camera_id: str) -> dict[str, Any]:
    async with api.database.transaction() as session:
        row = (
            (await session.execute(text("SELECT * FROM camera WHERE id = :id"), {"id": camera_id}))
            .mappings()
            .one()
        )
    return dict(row)


async def test_credentials_are_sealed_masked_and_never_logged(
    api: Api, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = await api.sign_up()
    space = await alice.create_space()
    camera = await alice.create_camera(
        space["id"], detect_url="rtsp://127.0.0.1:8554/sub", username=None
    )
    assert camera["main_url"] == "rtsp://admin:••••@127.0.0.1:8554/front"
    assert camera["detect_url"] == "rtsp://admin:••••@127.0.0.1:8554/sub"
    assert camera["has_credentials"] is True

    raw = await raw_camera_row(api, camera["id"])
    dumped = repr(raw)
    assert "s3cret-Pa55" not in dumped
    assert raw["main_url"] == "rtsp://127.0.0.1:8554/front"
    assert str(raw["credentials_sealed"]).startswith("env1.")
    listed = (await alice.get("/api/v1/cameras")).text
    assert "s3cret-Pa55" not in listed
    logged = capsys.readouterr()
    assert "camera.created" in logged.out + logged.err + caplog.text  # the logs were captured
    assert "s3cret-Pa55" not in logged.out + logged.err + caplog.text

    # Only the ingest side gets the whole URL back.
    async with api.database.transaction() as session:
        row = await session.get(Camera, camera["id"])
        assert row is not None
        assert full_url(api.runtime.infra.envelope, row) == LOCAL_CAMERA


async def test_separate_credentials_win_and_can_be_replaced(api: Api) -> None:
    alice = await api.sign_up()
    space = await alice.create_space()
    camera = await alice.create_camera(
        space["id"], main_url="rtsp://127.0.0.1/live", username="op", password="p@ss:w/rd"
    )
    assert camera["main_url"] == "rtsp://op:••••@127.0.0.1/live"
    changed = await alice.patch(
        f"/api/v1/cameras/{camera['id']}", json={"username": "viewer", "password": "new"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["main_url"] == "rtsp://viewer:••••@127.0.0.1/live"
    async with api.database.transaction() as session:
        row = await session.get(Camera, camera["id"])
        assert row is not None
        assert full_url(api.runtime.infra.envelope, row) == "rtsp://viewer:new@127.0.0.1/live"
    # Changing only the name keeps the credentials.
    renamed = await alice.patch(f"/api/v1/cameras/{camera['id']}", json={"name": "Back"})
    assert renamed.json()["main_url"] == "rtsp://viewer:••••@127.0.0.1/live"


async def test_the_longest_credentials_the_api_takes_are_shown_masked(api: Api) -> None:
    """200 four-byte characters each: the joined URL is far over the 2048 a person may type."""
    alice = await api.sign_up()
    space = await alice.create_space()
    name, secret = "\U0001f4f7" * 200, "\U0001f511" * 200
    camera = await alice.create_camera(
        space["id"], main_url="rtsp://127.0.0.1/live", username=name, password=secret
    )
    masked = f"rtsp://{quote(name, safe='')}:••••@127.0.0.1/live"
    assert camera["main_url"] == masked
    fetched = await alice.get(f"/api/v1/cameras/{camera['id']}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["main_url"] == masked


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("rtsp://169.254.169.254/latest", "metadata"),
        ("rtsp://[::1]/x", "loopback"),
        ("rtsp://[::ffff:127.0.0.2]/x", "loopback"),
        ("rtsp://2130706434/x", "loopback"),
        ("rtsp://0177.0.0.2/x", "loopback"),
        ("rtsp://0x7f.0.0.2/x", "loopback"),
        ("rtsp://10.0.0.5/x", "private"),
        ("rtsp://192.168.1.20/x", "private"),
        ("rtsp://127.0.0.2/x", "loopback"),
        ("rtsp://metadata.google.internal/x", "metadata"),
        ("rtsp://nonexistent.invalid/x", "resolved"),
        ("http://127.0.0.1/x", "rtsp"),
        ("file:///etc/passwd", "rtsp"),
    ],
)
async def test_the_url_policy_refuses_internal_destinations(
    api: Api, url: str, reason: str
) -> None:
    alice = await api.sign_up()
    space = await alice.create_space()
    response = await alice.post(
        "/api/v1/cameras", json={"space_id": space["id"], "name": "x", "main_url": url}
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("invalid-stream-url")
    assert reason in problem["detail"].lower()


async def test_admins_may_use_file_urls_and_allowed_loopback_is_accepted(api: Api) -> None:
    admin = await api.sign_up(admin=True)
    space = await admin.create_space()
    demo = await admin.create_camera(space["id"], main_url="file:///usr/share/demo.avi")
    assert demo["main_url"] == "file:///usr/share/demo.avi"
    # 127.0.0.1 is allowed by the test settings; 127.0.0.2 is not.
    await admin.create_camera(space["id"], main_url="rtsp://127.0.0.1:8554/ok")


async def test_zones_and_masks_are_validated(api: Api) -> None:
    alice = await api.sign_up()
    space = await alice.create_space()
    camera = await alice.create_camera(space["id"])
    url = f"/api/v1/cameras/{camera['id']}/zones"
    bad = [
        [{"name": "porch", "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]}],
        [{"name": "porch", "polygon": [[0, 0], [1.2, 0], [1, 1]]}],
        [{"name": "porch", "polygon": [[0, 0], [1, 0]]}],
        [{"name": "porch", "polygon": SQUARE}, {"name": "PORCH", "polygon": SQUARE}],
        [{"name": "porch", "polygon": "square"}],
        [{"name": "", "polygon": SQUARE}],
    ]
    for zones in bad:
        response = await alice.put(url, json={"zones": zones})
        assert response.status_code == 422, zones
        assert response.headers["content-type"].startswith("application/problem+json")
    ok = await alice.put(url, json={"zones": [{"name": "Porch", "polygon": SQUARE}]})
    assert ok.status_code == 200, ok.text
    assert [zone["name"] for zone in ok.json()["zones"]] == ["Porch"]
    masks = await alice.put(
        f"/api/v1/cameras/{camera['id']}/masks", json={"privacy_masks": [{"polygon": SQUARE}]}
    )
    assert masks.status_code == 200
    assert len(masks.json()["privacy_masks"]) == 1


async def test_the_free_plan_allows_two_cameras(api: Api) -> None:
    alice = await api.sign_up()
    space = await alice.create_space()
    await alice.create_camera(space["id"])
    await alice.create_camera(space["id"])
    response = await alice.post(
        "/api/v1/cameras",
        json={"space_id": space["id"], "name": "third", "main_url": LOCAL_CAMERA},
    )
    assert response.status_code == 402
    assert response.json()["limit"] == "cameras"
    too_long = await alice.post(
        "/api/v1/cameras",
        json={"space_id": space["id"], "name": "x", "main_url": LOCAL_CAMERA, "retention_days": 30},
    )
    assert too_long.status_code == 402


async def test_a_share_shows_one_camera_until_it_expires(api: Api) -> None:
    alice, bob = await api.sign_up(), await api.sign_up()
    space = await alice.create_space()
    shared = await alice.create_camera(space["id"], name="Shared")
    await alice.create_camera(space["id"], name="Private")

    response = await alice.post(
        f"/api/v1/cameras/{shared['id']}/shares",
        json={"email": bob.email, "role": "viewer", "expires_at": "2999-01-01T00:00:00Z"},
    )
    assert response.status_code == 201, response.text
    visible = (await bob.get("/api/v1/cameras")).json()["items"]
    assert [(c["name"], c["role"], c["shared_with_me"]) for c in visible] == [
        ("Shared", "viewer", True)
    ]
    assert (await bob.get(f"/api/v1/spaces/{space['id']}")).status_code == 404
    assert (
        await bob.patch(f"/api/v1/cameras/{shared['id']}", json={"name": "x"})
    ).status_code == 403
    assert (await bob.get(f"/api/v1/cameras/{shared['id']}/shares")).status_code == 403

    async with api.database.transaction() as session:
        await session.execute(
            update(CameraShare).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await bob.get("/api/v1/cameras")).json()["items"] == []
    assert (await bob.get(f"/api/v1/cameras/{shared['id']}")).status_code == 404


async def test_sharing_needs_an_account_and_a_future_expiry(api: Api) -> None:
    alice = await api.sign_up()
    space = await alice.create_space()
    camera = await alice.create_camera(space["id"])
    url = f"/api/v1/cameras/{camera['id']}/shares"
    nobody = await alice.post(url, json={"email": "nobody@example.com"})
    assert nobody.status_code == 422
    bob = await api.sign_up()
    past = await alice.post(url, json={"email": bob.email, "expires_at": "2001-01-01T00:00:00Z"})
    assert past.status_code == 400
    naive = await alice.post(url, json={"email": bob.email, "expires_at": "2999-01-01T00:00:00"})
    assert naive.status_code == 422


async def test_keys_rotate_rewraps_credentials_and_seals_signing_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database of its own: rows other tests sealed under their own keys would be unreadable.
    url = f"sqlite+aiosqlite:///{tmp_path / 'rotate.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(
        data_dir=tmp_path,
        database=DatabaseSettings(url=url),
        auth=AuthSettings(bcrypt_rounds=4, breached_check=False),
        cameras=CameraSettings(allowed_networks=["127.0.0.1/32"]),
    )
    async with open_api(settings) as api:
        alice = await api.sign_up()
        space = await alice.create_space()
        camera = await alice.create_camera(space["id"])
        before = (await raw_camera_row(api, camera["id"]))["credentials_sealed"]
        old_id = api.runtime.infra.envelope.active_id
        derived = KeyEncryptionKeys.from_settings(CryptoSettings(), api.runtime.infra.secret)

    old_key = base64.b64encode(derived.keys[old_id]).decode()
    new_key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("ORIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ORIN_DATABASE_URL", url)
    monkeypatch.setenv("ORIN_CRYPTO_KEYS", f'{{"{old_id}": "{old_key}", "k2": "{new_key}"}}')
    monkeypatch.setenv("ORIN_CRYPTO_ACTIVE_KEY", "k2")
    monkeypatch.setenv("ORIN_LOG_LEVEL", "ERROR")

    result = await asyncio.to_thread(CliRunner().invoke, keys_cli, ["rotate"])
    assert result.exit_code == 0, result.output
    assert "1 camera credential(s), 1 signing key(s)" in result.output

    rotated = settings.model_copy(
        update={"crypto": CryptoSettings(keys={"k2": new_key}, active_key="k2")}
    )
    async with open_api(rotated) as api:
        after = (await raw_camera_row(api, camera["id"]))["credentials_sealed"]
        assert after.startswith("env1.k2.")
        assert after.split(".")[3] == before.split(".")[3]  # the ciphertext is unchanged
        async with api.database.transaction() as session:
            pems = list(await session.scalars(select(SigningKey.private_pem)))
            row = await session.get(Camera, camera["id"])
            assert row is not None
            # Only the new key is configured now, and everything still opens.
            assert full_url(api.runtime.infra.envelope, row) == LOCAL_CAMERA
        assert len(pems) == 1
        assert pems[0].startswith("env1.k2.")
        # Alice's token, signed before the rotation, still verifies with the re-wrapped key.
        seen = await api.http.get(f"/api/v1/cameras/{camera['id']}", headers=alice.auth)
        assert seen.status_code == 200
