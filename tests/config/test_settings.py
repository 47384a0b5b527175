"""Settings: environment and YAML, sub-models, one clear message for a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from orin.config import CONFIG_FILE_ENV, Settings, SettingsError, load_settings


def all_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for field in model.model_fields.values():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += all_models(annotation)
    return found


def test_every_setting_has_a_description() -> None:
    missing = [
        f"{model.__name__}.{name}"
        for model in all_models(Settings)
        for name, field in model.model_fields.items()
        if not field.description
    ]
    assert missing == []


def test_every_area_forbids_unknown_keys() -> None:
    assert all(model.model_config.get("extra") == "forbid" for model in all_models(Settings))


def test_defaults_are_the_embedded_adapters(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.embedded
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.api.host == "127.0.0.1"
    assert settings.api.port == 8000


def test_environment_names_follow_area_and_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORIN_API_PORT", "9123")
    monkeypatch.setenv("ORIN_API_HOST", "0.0.0.0")
    monkeypatch.setenv("ORIN_DATABASE_URL", "postgresql+asyncpg://u@db/orin")
    monkeypatch.setenv("ORIN_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("ORIN_AMQP_URL", "amqp://guest:guest@mq:5672/")
    monkeypatch.setenv("ORIN_S3_ENDPOINT", "http://s3:8333")
    monkeypatch.setenv("ORIN_S3_ACCESS_KEY", "key")
    monkeypatch.setenv("ORIN_DATA_DIR", "/var/lib/orin")
    settings = load_settings()
    assert (settings.api.host, settings.api.port) == ("0.0.0.0", 9123)
    assert settings.database_url == "postgresql+asyncpg://u@db/orin"
    assert settings.redis.url == "redis://cache:6379/0"
    assert settings.amqp.url == "amqp://guest:guest@mq:5672/"
    assert settings.s3.endpoint == "http://s3:8333"
    assert settings.s3.access_key == "key"
    assert settings.data_dir == Path("/var/lib/orin")
    assert not settings.embedded


def test_yaml_file_gives_defaults_that_the_environment_overrides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "orin.yaml"
    config.write_text("api:\n  port: 7000\n  host: 10.0.0.1\nlog:\n  level: DEBUG\n")
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    monkeypatch.setenv("ORIN_API_PORT", "7001")
    settings = load_settings()
    assert settings.api.port == 7001
    assert settings.api.host == "10.0.0.1"
    assert settings.log.level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("ORIN_API_PORT", "eighty", "ORIN_API_PORT: Input should be a valid integer"),
        ("ORIN_API_PORT", "70000", "ORIN_API_PORT: Input should be less than or equal to 65535"),
        ("ORIN_DATABASE_URL", "mysql://x", "ORIN_DATABASE_URL: Value error, must start with"),
        ("ORIN_REDIS_URL", "http://x", "ORIN_REDIS_URL: Value error, must start with redis://"),
        ("ORIN_LOG_LEVEL", "LOUD", "ORIN_LOG_LEVEL: Input should be"),
    ],
)
def test_a_bad_value_gives_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_secrets_are_not_echoed_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORIN_AMQP_URL", "http://user:hunter2@mq/")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)
    assert "ORIN_AMQP_URL" in str(caught.value)


def test_unknown_keys_in_the_yaml_file_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "orin.yaml"
    config.write_text("api:\n  prot: 7000\n")
    monkeypatch.setenv(CONFIG_FILE_ENV, str(config))
    with pytest.raises(SettingsError, match="ORIN_API_PROT: unknown setting"):
        load_settings()


def test_a_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CONFIG_FILE_ENV, str(tmp_path / "nope.yaml"))
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings()
