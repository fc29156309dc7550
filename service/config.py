"""bnlab's settings in one place: safe defaults, environment overrides, unknown names refused.

The defaults are the embedded shape of architecture.md: a SQLite file in ./instance and no
Redis, so `bnlab ask` and `bnlab serve` work with nothing else running. Each setting NAME can
be set as the environment variable BNLAB_NAME; a BNLAB_* variable that names no setting is an
error, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "BNLAB_"
EXECUTORS = ("auto", "celery", "local")
DEVICES = ("auto", "cpu", "cuda")


class ConfigError(ValueError):
    """A setting is unknown or has a value that cannot work."""


@dataclass(frozen=True)
class Settings:
    # Where the embedded SQLite database lives; Flask's instance folder too.
    instance: Path = Path("instance")
    # SQLAlchemy URL. Empty means SQLite in the instance folder. PostgreSQL URLs may be written
    # postgresql://...; they are run through psycopg 3.
    database_url: str = ""
    # Celery broker and rate-limit store. Empty means embedded: jobs run in a local worker.
    redis_url: str = ""
    # Who runs jobs: celery (needs redis_url), local (child processes of this one) or auto.
    executor: str = "auto"
    # Queue names; a deployment (or a test) may rename them to keep apart from others.
    gpu_queue: str = "gpu"
    cpu_queue: str = "cpu"
    # Seconds. At the soft limit the job ends `failed` with the reason; the hard limit kills the
    # worker process in case the soft one could not interrupt (a long CUDA call, say).
    soft_time_limit: int = 3600
    hard_time_limit: int = 3900
    # Seconds before Redis hands an unacknowledged job to another worker. It must exceed the
    # hard limit, or a job that is still running would be started a second time.
    visibility_timeout: int = 0  # 0: hard_time_limit + 300
    # How many times a job is started before it is given up (each lost worker costs one).
    max_attempts: int = 3
    # Device for experiments: auto picks cuda when a worker has one.
    device: str = "auto"
    # POST /questions per API key: "COUNT/SECONDS".
    rate_limit: str = "30/60"
    # Signs the dashboard's session cookies. Empty: a random key is made once and kept in
    # instance/secret_key, so sign-ins survive restarts; several web hosts must share one key.
    secret_key: str = ""
    # Failed dashboard sign-ins per client address: "COUNT/SECONDS".
    login_rate_limit: str = "5/60"
    # Reverse proxies in front of the web app (a load balancer, nginx) whose X-Forwarded-For,
    # -Proto, -Host and -Port headers are trusted. Behind one, set 1: the sign-in limit then
    # counts the client's address, not the proxy's, and sign-ins made over HTTPS get Secure
    # cookies. Without a proxy keep 0, or any client could claim another address.
    proxy_hops: int = 0
    # Jobs the embedded local worker runs at once, each in its own process: 0 means one per
    # core, so a post's asks overlap.
    local_workers: int = 0
    # Where experiments cache generated datasets (read by experiments.datasets directly).
    data_dir: str = "data"
    # Seconds between progress writes to a job row; progress callbacks in between are dropped.
    progress_interval: float = 0.5
    # Seconds between heartbeats of a running job (its row's updated_at), written by a thread
    # beside the experiment, so a long step without progress still shows the job is alive.
    heartbeat_interval: float = 5.0
    # Seconds without a heartbeat after which a running job counts as lost: the reconciler
    # queues it again, and a redelivered message may take it over. Several heartbeats long, so
    # that a slow database write is not mistaken for a dead worker.
    stale_after: float = 60.0
    # Seconds between reconciler passes (stale jobs, unsent or lost messages, stray keys).
    reconcile_interval: float = 15.0
    # Seconds a broker send or a readiness probe may take before it counts as failed; the job
    # row then stays queued and the reconciler sends it later.
    broker_timeout: float = 2.0
    # Seconds a worker keeps retrying the database to claim or record a job before it hands
    # the message back to the queue (a database outage costs no attempt).
    db_retry_limit: float = 120.0
    # Seconds a running job may still take after the worker gets SIGTERM; past that it is
    # stopped and queued again without spending an attempt. Keep below the stop grace period
    # of the process manager (docker-compose.yml: stop_grace_period).
    shutdown_grace: float = 90.0
    # The forum bot (service/bot). With discourse_url empty the bot is off and its webhook is
    # not registered. The API key and username go out as Discourse's Api-Key / Api-Username.
    discourse_url: str = ""
    discourse_api_key: str = ""
    discourse_username: str = "bnlab"
    # The webhook's secret; Discourse signs each delivery with it (HMAC-SHA256).
    discourse_webhook_secret: str = ""
    # Category ids, comma-separated, where new topics are answered; mentions and replies to
    # the bot outside them are ignored too.
    discourse_categories: str = ""
    discourse_preset: str = "quick"
    # Guards against a bot that floods a topic or answers one person all day.
    discourse_max_posts_per_topic: int = 5
    discourse_max_answers_per_user_day: int = 10

    def __post_init__(self):
        object.__setattr__(self, "instance", Path(self.instance).resolve())
        if not self.database_url:
            url = f"sqlite:///{self.instance / 'bnlab.sqlite3'}"
            object.__setattr__(self, "database_url", url)
        if not self.visibility_timeout:
            object.__setattr__(self, "visibility_timeout", self.hard_time_limit + 300)
        self._check()

    def _check(self) -> None:
        if self.executor not in EXECUTORS:
            raise ConfigError(f"executor must be one of {', '.join(EXECUTORS)}, "
                              f"got {self.executor!r}")
        if self.executor == "celery" and not self.redis_url:
            raise ConfigError("executor celery needs redis_url (BNLAB_REDIS_URL)")
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if not 0 < self.soft_time_limit < self.hard_time_limit:
            raise ConfigError("need 0 < soft_time_limit < hard_time_limit, got "
                              f"{self.soft_time_limit} and {self.hard_time_limit}")
        if self.visibility_timeout <= self.hard_time_limit:
            raise ConfigError(f"visibility_timeout ({self.visibility_timeout} s) must exceed "
                              f"hard_time_limit ({self.hard_time_limit} s)")
        if self.max_attempts < 1 or self.local_workers < 0:
            raise ConfigError("max_attempts must be at least 1 and local_workers at least 0")
        if self.progress_interval < 0:
            raise ConfigError("progress_interval must not be negative")
        timings = ("heartbeat_interval", "stale_after", "reconcile_interval", "broker_timeout",
                   "db_retry_limit", "shutdown_grace")
        for name in timings:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be a positive number of seconds")
        if self.reconcile_interval >= self.stale_after:
            # A reconciler must see any outage that lasts long enough to stale a heartbeat.
            raise ConfigError(f"reconcile_interval ({self.reconcile_interval} s) must be "
                              f"shorter than stale_after ({self.stale_after} s)")
        if self.stale_after < 3 * self.heartbeat_interval:
            raise ConfigError(f"stale_after ({self.stale_after} s) must be at least three "
                              f"heartbeats ({self.heartbeat_interval} s each)")
        if self.gpu_queue == self.cpu_queue or not self.gpu_queue or not self.cpu_queue:
            raise ConfigError("gpu_queue and cpu_queue must be two different names")
        if self.proxy_hops < 0:
            raise ConfigError(f"proxy_hops must be 0 or more, got {self.proxy_hops}")
        self.rate_limit_pair  # noqa: B018 - parses, raising ConfigError on a bad value
        self.login_rate_limit_pair  # noqa: B018
        if self.discourse_url:
            self._check_discourse()

    def _check_discourse(self) -> None:
        from experiments.params import PRESETS

        if not self.discourse_url.startswith(("http://", "https://")):
            raise ConfigError(f"discourse_url must be http(s)://..., got {self.discourse_url!r}")
        if len(self.discourse_webhook_secret) < 12:
            raise ConfigError("discourse_webhook_secret must be at least 12 characters")
        if not self.discourse_api_key or not self.discourse_username:
            raise ConfigError("the forum bot needs discourse_api_key and discourse_username")
        if not self.discourse_category_ids:
            raise ConfigError("discourse_categories must name at least one category id")
        if self.discourse_preset not in PRESETS:
            raise ConfigError(f"discourse_preset must be one of {', '.join(PRESETS)}, "
                              f"got {self.discourse_preset!r}")
        if self.discourse_max_posts_per_topic < 1 or self.discourse_max_answers_per_user_day < 1:
            raise ConfigError("the discourse_max_* guards must be at least 1")

    @property
    def discourse_category_ids(self) -> frozenset[int]:
        """discourse_categories as a set of ids."""
        try:
            return frozenset(int(part) for part in self.discourse_categories.split(",")
                             if part.strip())
        except ValueError:
            raise ConfigError("discourse_categories must be ids separated by commas, got "
                              f"{self.discourse_categories!r}") from None

    @property
    def uses_celery(self) -> bool:
        return self.executor == "celery" or (self.executor == "auto" and bool(self.redis_url))

    @property
    def rate_limit_pair(self) -> tuple[int, int]:
        """(requests, seconds) from rate_limit."""
        return _rate_pair("rate_limit", self.rate_limit)

    @property
    def login_rate_limit_pair(self) -> tuple[int, int]:
        return _rate_pair("login_rate_limit", self.login_rate_limit)

    def child_environment(self) -> dict[str, str]:
        """These settings as BNLAB_* variables, for processes this one starts."""
        env = {}
        for f in fields(self):
            env[ENV_PREFIX + f.name.upper()] = str(getattr(self, f.name))
        return env

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 overrides: Mapping[str, Any] | None = None) -> Settings:
        """Defaults, then BNLAB_* environment variables, then `overrides` (by field name)."""
        environ = os.environ if environ is None else environ
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for var, raw in environ.items():
            if not var.startswith(ENV_PREFIX):
                continue
            name = var[len(ENV_PREFIX):].lower()
            if name not in known:
                valid = ", ".join(ENV_PREFIX + n.upper() for n in known)
                raise ConfigError(f"unknown setting {var}; valid: {valid}")
            values[name] = _parse(known[name], var, raw)
        for name, value in (overrides or {}).items():
            if name not in known:
                raise ConfigError(f"unknown setting {name!r}; valid: {', '.join(known)}")
            values[name] = value
        return cls(**values)


def _rate_pair(name: str, value: str) -> tuple[int, int]:
    count, sep, seconds = value.partition("/")
    try:
        pair = int(count), int(seconds)
    except ValueError:
        pair = (0, 0)
    if not sep or pair[0] < 1 or pair[1] < 1:
        raise ConfigError(f"{name} must be COUNT/SECONDS, got {value!r}")
    return pair


def _parse(f: dataclasses.Field, var: str, raw: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ConfigError(f"{var} must be a number, got {raw!r}") from None
    return raw.strip()


_current: Settings | None = None


def get_settings() -> Settings:
    """This process's settings from its environment, read once."""
    global _current
    if _current is None:
        _current = Settings.from_env()
    return _current
