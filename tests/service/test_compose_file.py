"""docker-compose.yml and the Dockerfile refer to things that exist in this repository.

No Docker engine runs in CI, so the compose file is parsed and each reference is checked:
the modules and the Celery app the commands name, the Alembic configuration, the settings in
the environment, the order of start-up, the health checks and the GPU reservation.
"""

from __future__ import annotations

import ast
import configparser
import dataclasses
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from service.config import Settings

REPO = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker-gpu", "worker-cpu")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def option(command: list[str], *names: str) -> str:
    for name in names:
        if name in command:
            return command[command.index(name) + 1]
    raise AssertionError(f"none of {names} in {command}")


def test_the_services(services):
    assert set(services) == {"web", "migrate", "worker-gpu", "worker-cpu", "redis", "postgres"}
    for name in ("web", "redis", "postgres", "worker-gpu", "worker-cpu"):
        assert services[name]["healthcheck"]["test"], name


def test_app_services_build_from_the_dockerfile(services):
    dockerfile = (REPO / "Dockerfile").read_text()
    for name in APP_SERVICES:
        assert (REPO / services[name]["build"]["context"] / "Dockerfile").exists()
    assert re.search(r'pip install "torch==\$\{TORCH_VERSION\}" --index-url "\$\{TORCH_INDEX\}"',
                     dockerfile)
    assert "ARG TORCH_VERSION=2.13.0" in dockerfile
    assert dockerfile.index("torch==") < dockerfile.index("pip install .")
    assert "cu" in services["worker-gpu"]["build"]["args"]["TORCH_INDEX"]


def test_web_serves_the_wsgi_app(services):
    command = services["web"]["command"]
    assert command[0] == "gunicorn"
    module, _, attribute = command[-1].partition(":")
    spec = importlib.util.find_spec(module)
    assert spec is not None, module
    tree = ast.parse(Path(spec.origin).read_text())
    assert any(isinstance(node, ast.Assign) and any(
        getattr(t, "id", None) == attribute for t in node.targets) for node in tree.body)
    assert option(command, "--bind", "-b").endswith(":8000")
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])


def test_migrate_runs_alembic_with_the_repositorys_configuration(services):
    assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
    assert services["migrate"]["restart"] == "no"
    config = configparser.ConfigParser()
    config.read(REPO / "alembic.ini")
    location = config.get("alembic", "script_location", raw=True).replace("%(here)s", str(REPO))
    assert (Path(location) / "env.py").exists()
    assert list((Path(location) / "versions").glob("0001_*.py"))


def test_web_and_workers_wait_for_the_migration(services):
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker-gpu", "worker-cpu"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_workers_run_the_celery_app_on_their_queues(services):
    from celery import Celery

    import workers.tasks  # noqa: F401 - registers the task
    from workers.celery_app import TASK_NAME

    defaults = Settings.from_env(environ={})
    for name, queue in (("worker-gpu", defaults.gpu_queue), ("worker-cpu", defaults.cpu_queue)):
        command = services[name]["command"]
        assert command[:2] == ["celery", "-A"] and command[3] == "worker"
        module = importlib.import_module(command[2])
        assert isinstance(module.app, Celery) and TASK_NAME in module.app.tasks
        assert option(command, "-Q", "--queues") == queue
    gpu = services["worker-gpu"]["command"]
    assert option(gpu, "-c", "--concurrency") == "1"
    assert option(gpu, "--max-tasks-per-child") == "1"
    devices = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message}, from `env` (an .env file)."""
    def one(match: re.Match) -> str:
        name, op, default = match[1], match[2] or "", match[3] or ""
        if env.get(name):
            return env[name]
        assert op != ":?", f"{name} is required and unset"
        return default if op == ":-" else ""
    return re.sub(r"\$\{(\w+)(:-|:\?)?([^}]*)\}", one, str(value))


def _env_example() -> dict[str, str]:
    lines = (REPO / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_environment_names_only_known_settings(services):
    """What each service gets from an .env copied from .env.example is a valid configuration."""
    env = _env_example()
    for name in APP_SERVICES:
        environment = {k: _interpolate(v, env) for k, v in services[name]["environment"].items()}
        bnlab = {k: v for k, v in environment.items() if k.startswith("BNLAB_")}
        assert {"BNLAB_DATABASE_URL", "BNLAB_REDIS_URL"} <= set(bnlab), name
        Settings.from_env(environ=bnlab)  # raises on an unknown BNLAB_* name or a bad value
    url = services["web"]["environment"]["BNLAB_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url
    assert services["web"]["environment"]["BNLAB_REDIS_URL"].startswith("redis://redis:6379")


def test_every_forum_bot_setting_reaches_the_services(services):
    """The bot is configured from .env: each discourse_* setting is passed to every service."""
    wanted = {f"BNLAB_{f.name.upper()}" for f in dataclasses.fields(Settings)
              if f.name.startswith("discourse_")}
    for name in APP_SERVICES:
        assert wanted <= set(services[name]["environment"]), (name, wanted)


def test_env_example_sets_every_required_variable(compose):
    text = (REPO / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    example = {line.split("=", 1)[0] for line in (REPO / ".env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert required and required <= example
    used = set(re.findall(r"\$\{(\w+)(?::?[-?][^}]*)?\}", text))
    assert example <= used, example - used  # nothing in the example that compose ignores


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", str(value))
    assert match, f"unreadable duration {value!r}"
    return int(match[1]) * (60 if match[2] == "m" else 1)


def test_workers_stop_with_sigterm_and_time_to_hand_their_job_back(services):
    for name in ("worker-gpu", "worker-cpu"):
        worker = services[name]
        assert worker["stop_signal"] == "SIGTERM"
        grace = re.search(r":-(\d+)\}", worker["environment"]["BNLAB_SHUTDOWN_GRACE"])
        # The job's grace, then its hand-back, both before the runtime's SIGKILL.
        assert _seconds(worker["stop_grace_period"]) >= int(grace[1]) + 15, name
