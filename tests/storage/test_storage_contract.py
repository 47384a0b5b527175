"""Every `ObjectStorage` adapter keeps the same promises (local folder and real S3 alike)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pydantic import SecretStr

from orin.config import S3Settings, Settings
from orin.errors import AdapterUnavailable, Conflict, NotFound
from orin.storage import create_storage, endpoints
from orin.storage.base import InvalidKey, ObjectStorage
from orin.storage.local import LocalStorage
from orin.storage.s3 import S3Storage
from tests.fixtures.services import free_port
from tests.storage.conftest import LOCAL_BASE_URL, LOCAL_SECRET, serving, storage_app

ALL_BYTES = bytes(range(256)) * 64


def _replace_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def tamper_signature(url: str) -> str:
    """The same URL with one character of its signature changed."""
    query = dict(parse_qsl(urlsplit(url).query))
    name = "X-Amz-Signature" if "X-Amz-Signature" in query else "signature"
    signature = query[name]
    flipped = ("B" if signature[0] == "A" else "A") if name == "signature" else None
    if flipped is None:
        flipped = "1" if signature[0] == "0" else "0"
    return _replace_query(url, **{name: flipped + signature[1:]})


def swap_key(url: str, key: str, other: str) -> str:
    """The same URL (signature included) pointing at another key."""
    parts = urlsplit(url)
    assert parts.path.endswith("/" + key)
    return urlunsplit(parts._replace(path=parts.path[: -len(key)] + other))


# -- objects -------------------------------------------------------------------------------


async def test_put_then_get_returns_the_same_bytes(storage: ObjectStorage, prefix: str) -> None:
    key = prefix + "snapshots/frame 1.bin"
    info = await storage.put(key, ALL_BYTES)
    assert info.key == key
    assert info.size == len(ALL_BYTES)
    assert await storage.get(key) == ALL_BYTES


async def test_put_of_empty_object_round_trips(storage: ObjectStorage, prefix: str) -> None:
    await storage.put(prefix + "empty", b"")
    assert await storage.get(prefix + "empty") == b""
    head = await storage.head(prefix + "empty")
    assert head is not None
    assert head.size == 0


async def test_put_replaces_the_previous_object(storage: ObjectStorage, prefix: str) -> None:
    key = prefix + "status.json"
    await storage.put(key, b'{"v": 1, "padding": "xxxxxxxx"}')
    await storage.put(key, b'{"v": 2}')
    assert await storage.get(key) == b'{"v": 2}'
    assert [info.key for info in await storage.list(prefix)] == [key]


async def test_head_reports_size_and_recent_modification(
    storage: ObjectStorage, prefix: str
) -> None:
    key = prefix + "clip.mp4"
    await storage.put(key, b"12345", content_type="video/mp4")
    head = await storage.head(key)
    assert head is not None
    assert head.key == key
    assert head.size == 5
    assert head.modified_at.tzinfo is not None
    assert abs(datetime.now(UTC) - head.modified_at) < timedelta(minutes=1)


async def test_missing_object_is_not_found(storage: ObjectStorage, prefix: str) -> None:
    with pytest.raises(NotFound):
        await storage.get(prefix + "missing.jpg")
    assert await storage.head(prefix + "missing.jpg") is None


async def test_delete_removes_objects_and_ignores_missing_ones(
    storage: ObjectStorage, prefix: str
) -> None:
    await storage.put(prefix + "a/1", b"1")
    await storage.put(prefix + "a/2", b"2")
    await storage.put(prefix + "b", b"3")
    await storage.delete(prefix + "a/1", prefix + "a/2", prefix + "never-existed")
    await storage.delete()
    assert await storage.head(prefix + "a/1") is None
    assert [info.key for info in await storage.list(prefix)] == [prefix + "b"]
    # Deleting every object under a folder must not keep the folder alive as a key.
    await storage.put(prefix + "a", b"now a file")
    assert await storage.get(prefix + "a") == b"now a file"


async def test_list_filters_by_prefix_and_sorts_by_key(storage: ObjectStorage, prefix: str) -> None:
    keys = ["cam/b1", "cam/a/x.jpg", "cam/b/y.jpg", "cam/bc/z.jpg", "camera", "other/cam"]
    for key in keys:
        await storage.put(prefix + key, key.encode())

    async def listed(sub: str) -> list[str]:
        return [info.key.removeprefix(prefix) for info in await storage.list(prefix + sub)]

    assert await listed("") == sorted(keys)
    assert await listed("cam/") == ["cam/a/x.jpg", "cam/b/y.jpg", "cam/b1", "cam/bc/z.jpg"]
    assert await listed("cam/b") == ["cam/b/y.jpg", "cam/b1", "cam/bc/z.jpg"]
    assert await listed("cam") == [key for key in sorted(keys) if key.startswith("cam")]
    assert await listed("nothing/") == []
    sizes = {info.key.removeprefix(prefix): info.size for info in await storage.list(prefix)}
    assert sizes == {key: len(key) for key in keys}


async def test_list_of_an_impossible_prefix_is_empty(storage: ObjectStorage) -> None:
    assert await storage.list("../") == []
    assert await storage.list("a//") == []


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/abs", "", "a//b", "a/./b", "a\\b", "a/"])
async def test_unsafe_keys_are_rejected(storage: ObjectStorage, key: str) -> None:
    with pytest.raises(InvalidKey):
        await storage.put(key, b"x")
    with pytest.raises(InvalidKey):
        await storage.get(key)
    with pytest.raises(InvalidKey):
        await storage.signed_url(key)
    with pytest.raises(InvalidKey):
        await storage.delete(key)


async def test_ping_answers_when_the_store_is_up(storage: ObjectStorage) -> None:
    await storage.ping()


# -- signed URLs: the must-show -------------------------------------------------------------


async def test_signed_get_url_downloads_the_object_with_its_content_type(
    storage: ObjectStorage, http: httpx.AsyncClient, prefix: str
) -> None:
    key = prefix + "clips/front door+ü (1).mp4"
    await storage.put(key, ALL_BYTES, content_type="video/mp4")
    url = await storage.signed_url(key)
    response = await http.get(url)
    assert response.status_code == 200, response.text
    assert response.content == ALL_BYTES
    assert response.headers["content-type"] == "video/mp4"


async def test_signed_get_url_serves_byte_ranges(
    storage: ObjectStorage, http: httpx.AsyncClient, prefix: str
) -> None:
    key = prefix + "range.bin"
    await storage.put(key, ALL_BYTES)
    response = await http.get(await storage.signed_url(key), headers={"Range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.content == ALL_BYTES[10:20]


async def test_signed_put_url_uploads_an_object(
    storage: ObjectStorage, http: httpx.AsyncClient, prefix: str
) -> None:
    key = prefix + "uploads/export.bin"
    url = await storage.signed_url(key, method="PUT")
    response = await http.put(url, content=ALL_BYTES)
    assert response.status_code == 200, response.text
    assert await storage.get(key) == ALL_BYTES


async def test_signed_url_of_a_missing_object_is_404(
    storage: ObjectStorage, http: httpx.AsyncClient, prefix: str
) -> None:
    response = await http.get(await storage.signed_url(prefix + "gone.jpg"))
    assert response.status_code == 404


async def test_tampered_signed_urls_are_refused(
    storage: ObjectStorage, http: httpx.AsyncClient, prefix: str
) -> None:
    key, other = prefix + "secret.jpg", prefix + "other.jpg"
    await storage.put(key, b"private")
    await storage.put(other, b"also private")
    get_url = await storage.signed_url(key)
    put_url = await storage.signed_url(key, method="PUT")

    assert (await http.get(tamper_signature(get_url))).status_code == 403
    assert (await http.get(swap_key(get_url, key, other))).status_code == 403
    assert (await http.put(tamper_signature(put_url), content=b"evil")).status_code == 403
    assert (await http.put(swap_key(put_url, key, other), content=b"evil")).status_code == 403
    # A URL signed for reading cannot write, and one signed for writing cannot read.
    assert (await http.put(get_url, content=b"evil")).status_code == 403
    assert (await http.get(put_url)).status_code == 403
    assert await storage.get(key) == b"private"
    assert await storage.get(other) == b"also private"
    assert (await http.get(get_url)).status_code == 200  # the genuine URL still works


async def test_signed_url_works_until_it_expires(
    storage: ObjectStorage, http: httpx.AsyncClient, prefix: str
) -> None:
    key = prefix + "short-lived.jpg"
    await storage.put(key, b"jpeg")
    get_url = await storage.signed_url(key, expires_in_s=1)
    put_url = await storage.signed_url(key, method="PUT", expires_in_s=1)
    assert (await http.get(get_url)).status_code == 200
    await asyncio.sleep(2.1)
    assert (await http.get(get_url)).status_code == 403
    assert (await http.put(put_url, content=b"late")).status_code == 403
    assert await storage.get(key) == b"jpeg"


# -- the local store's route and files --------------------------------------------------------


@pytest.fixture
async def local(tmp_path: Path) -> LocalStorage:
    store = LocalStorage(
        tmp_path / "objects", base_url=LOCAL_BASE_URL, secret=LOCAL_SECRET, default_ttl_s=60
    )
    await store.start()
    return store


async def test_local_route_explains_refusals_as_problems(local: LocalStorage) -> None:
    await local.put("cam/live.m3u8", b"#EXTM3U\n")
    url = await local.signed_url("cam/live.m3u8")
    async with serving(local) as http:
        tampered = await http.get(tamper_signature(url))
        later = int(time.time()) + 3600
        extended = await http.get(_replace_query(url, expires=str(later)))
        unsigned = await http.get("/api/v1/storage/cam/live.m3u8")
        ok = await http.get(url)
    assert tampered.status_code == 403
    assert tampered.headers["content-type"] == "application/problem+json"
    assert tampered.json()["type"].endswith("/invalid-signature")
    assert extended.status_code == 403  # the expiry is signed too
    assert unsigned.status_code == 403
    assert ok.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert ok.headers["cache-control"].startswith("private, max-age=")


async def test_local_route_reports_expiry_distinctly(local: LocalStorage) -> None:
    await local.put("a.jpg", b"x")
    url = await local.signed_url("a.jpg", expires_in_s=1)
    expires = int(dict(parse_qsl(urlsplit(url).query))["expires"])
    await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
    async with serving(local) as http:
        response = await http.get(url)
    assert response.status_code == 403
    assert response.json()["type"].endswith("/expired-signature")


async def test_local_route_refuses_uploads_over_the_limit(
    local: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(endpoints, "MAX_PUT_BYTES", 10)
    await local.put("big.bin", b"old")
    url = await local.signed_url("big.bin", method="PUT")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"12345"

    async with serving(local) as http:
        declared = await http.put(url, content=b"x" * 11)
        streamed = await http.put(url, content=chunks())
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert await local.get("big.bin") == b"old"
    assert list((local.root / ".partial").iterdir()) == []


async def test_route_does_not_serve_s3_storage() -> None:
    app = storage_app(S3Storage(S3Settings(endpoint=f"http://127.0.0.1:{free_port()}")))
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app)) as http,
    ):
        response = await http.get("http://testserver/api/v1/storage/a.jpg?expires=1&signature=x")
    assert response.status_code == 404
    assert "S3" in response.json()["detail"]


async def test_local_keys_cannot_reach_the_upload_folder(local: LocalStorage) -> None:
    with pytest.raises(InvalidKey):
        await local.put(".partial/x", b"x")
    await local.put("visible", b"x")
    assert [info.key for info in await local.list()] == ["visible"]


async def test_local_key_cannot_be_object_and_folder(local: LocalStorage) -> None:
    await local.put("cam", b"file")
    with pytest.raises(Conflict):
        await local.put("cam/1.jpg", b"x")
    assert await local.get("cam") == b"file"


async def test_local_start_removes_half_written_uploads(local: LocalStorage) -> None:
    leftover = local.root / ".partial" / "crashed.part"
    leftover.write_bytes(b"half")
    await local.start()
    assert not leftover.exists()


async def test_unreachable_s3_fails_fast_without_leaking_the_secret() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    settings = S3Settings(
        endpoint=endpoint, access_key="AKIA", secret_key=SecretStr("hunter2-secret")
    )
    store = S3Storage(settings, connect_timeout_s=1, read_timeout_s=1)
    started = time.monotonic()
    with pytest.raises(AdapterUnavailable) as caught:
        await store.start()
    assert time.monotonic() - started < 5
    assert endpoint in caught.value.message
    assert "hunter2" not in caught.value.message
    with pytest.raises(AdapterUnavailable):
        await store.ping()


def test_create_storage_picks_the_adapter_from_settings(
    tmp_path: Path, s3_settings: S3Settings
) -> None:
    settings = Settings(data_dir=tmp_path, s3=S3Settings())
    local = create_storage(settings, secret=b"k")
    assert isinstance(local, LocalStorage)
    assert local.root == settings.objects_dir
    assert local.base_url == settings.public_url
    remote = create_storage(Settings(data_dir=tmp_path, s3=s3_settings), secret=b"k")
    assert isinstance(remote, S3Storage)
    assert remote.bucket == s3_settings.bucket
