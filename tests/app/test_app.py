"""The app factory: probes, problem+json errors, request ids, metrics, OpenAPI."""

from __future__ import annotations

import gc
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from orin.app import create_app
from orin.config import RedisSettings, Settings
from orin.errors import Conflict
from orin.migrate import upgrade
from orin.observability import gc_pauses
from orin.problems import PROBLEM_MEDIA_TYPE
from tests.fixtures.services import TcpProxy


@pytest.fixture
def app(embedded_settings: Settings) -> FastAPI:
    app = create_app(embedded_settings, configure_logs=False)

    @app.get("/test/crash")
    async def crash() -> None:
        raise RuntimeError("database password is hunter2")

    @app.get("/test/conflict")
    async def conflict() -> None:
        raise Conflict("camera name already used", extra={"field": "name"})

    @app.get("/test/items/{item_id}")
    async def item(item_id: int, limit: int = 10) -> dict[str, int]:
        return {"item_id": item_id, "limit": limit}

    return app


async def test_healthz_says_alive(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_checks_every_port_on_the_embedded_adapters(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["failed"] == []
    assert {port: check["adapter"] for port, check in body["checks"].items()} == {
        "database": "sqlite",
        "cache": "memory",
        "bus": "inprocess",
        "storage": "local",
    }


async def test_readyz_names_the_port_that_stopped_answering(tmp_path: Path, redis_url: str) -> None:
    host_port = redis_url.split("//")[1].split("/")[0]
    host, port = host_port.split(":")
    proxy = TcpProxy(host, int(port))
    await proxy.start()
    settings = Settings(
        data_dir=tmp_path,
        redis=RedisSettings(url=redis_url.replace(host_port, f"127.0.0.1:{proxy.port}")),
    )
    upgrade(settings.database_url)
    app = create_app(settings, configure_logs=False)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/readyz")).status_code == 200
            await proxy.cut()
            response = await client.get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert body["failed"] == ["cache"]
            assert body["checks"]["cache"]["adapter"] == "redis"
            assert body["checks"]["cache"]["error"]
            await proxy.restore()
            assert (await client.get("/readyz")).status_code == 200
    await proxy.close()


async def test_readyz_reports_an_outdated_schema(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    upgrade(settings.database_url)
    app = create_app(settings, configure_logs=False)
    async with LifespanManager(app) as manager:
        runtime = manager._state["runtime"]
        runtime.infra.expected_revision = "f00"
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert "run `orin migrate`" in response.json()["checks"]["database"]["error"]


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert body["instance"] == "/api/v1/nothing-here"
    assert body["request_id"] == response.headers["x-request-id"]


async def test_domain_error_is_rendered_with_its_status_and_extra(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/test/conflict")
    assert response.status_code == 409
    body = response.json()
    assert body["type"].endswith("/conflict")
    assert body["detail"] == "camera name already used"
    assert body["field"] == "name"


async def test_bad_input_is_a_422_problem_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.get("/test/items/abc", params={"limit": "x"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["detail"].startswith("path.item_id:")
    assert {tuple(error["loc"]) for error in body["errors"]} == {
        ("path", "item_id"),
        ("query", "limit"),
    }


async def test_a_crash_is_a_500_problem_that_leaks_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/test/crash", headers={"X-Request-ID": "req-123"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["x-request-id"] == "req-123"
    body = response.json()
    assert body["request_id"] == "req-123"
    assert "hunter2" not in response.text


async def test_request_id_is_generated_or_echoed_when_sane(client: httpx.AsyncClient) -> None:
    generated = (await client.get("/healthz")).headers["x-request-id"]
    assert len(generated) == 32
    assert (await client.get("/healthz", headers={"X-Request-ID": "abc-1"})).headers[
        "x-request-id"
    ] == "abc-1"
    hostile = (await client.get("/healthz", headers={"X-Request-ID": "a b\x01" * 100})).headers[
        "x-request-id"
    ]
    assert hostile != "a b\x01" * 100


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_requests_latency_and_errors_per_route_template(
    client: httpx.AsyncClient,
) -> None:
    for item in (1, 2, 3):
        await client.get(f"/test/items/{item}")
    await client.get("/test/items/bad")
    await client.get("/test/crash")
    text = (await client.get("/metrics")).text
    found = samples(text)
    route = ("route", "/test/items/{item_id}")
    get = ("method", "GET")

    def value(name: str, *labels: tuple[str, str]) -> float:
        return found[(name, frozenset(labels))]

    assert value("orin_http_requests_total", route, get, ("status", "200")) == 3
    assert value("orin_http_requests_total", route, get, ("status", "422")) == 1
    assert value("orin_http_request_duration_seconds_count", route, get) == 4
    assert value("orin_http_request_errors_total", route, get, ("kind", "client")) == 1
    crash = ("route", "/test/crash")
    assert value("orin_http_request_errors_total", crash, get, ("kind", "server")) == 1
    assert value("orin_http_requests_total", crash, get, ("status", "500")) == 1
    assert "/test/items/1" not in text


async def test_metrics_time_garbage_collections_by_generation(
    client: httpx.AsyncClient,
) -> None:
    def full_collections(text: str) -> float:
        return samples(text).get(
            ("orin_gc_pause_seconds_count", frozenset({("generation", "2")})), 0.0
        )

    before = full_collections((await client.get("/metrics")).text)
    gc.collect()
    gc.collect()
    after = full_collections((await client.get("/metrics")).text)
    assert after >= before + 2
    # One hook per process, however many apps were built.
    assert gc.callbacks.count(gc_pauses._on_gc) == 1


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/readyz" in schema["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_readyz_on_both_adapter_sets(adapter_settings: Settings) -> None:
    app = create_app(adapter_settings, configure_logs=False)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    adapters = {port: check["adapter"] for port, check in response.json()["checks"].items()}
    if adapter_settings.embedded:
        assert adapters == {
            "database": "sqlite",
            "cache": "memory",
            "bus": "inprocess",
            "storage": "local",
        }
    else:
        assert adapters == {
            "database": "postgresql",
            "cache": "redis",
            "bus": "rabbitmq",
            "storage": "s3",
        }
