"""Private PostgreSQL, Redis and Celery worker processes that faults may stop, kill or pause.

PostgreSQL is a cluster of its own (initdb) on a private port and socket folder, run as the
`postgres` OS user when this process is root (PostgreSQL refuses to run as root). Redis is a
redis-server on a private port without persistence, so a kill loses every message it held, as a
Redis restart without append-only files would. Workers run `celery -A service.chaos.probe
worker` in a process group of their own, so a fault can signal the whole group.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(interval)


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    raise FileNotFoundError(f"{name} (PostgreSQL server binaries) not found")


class PrivatePostgres:
    """A throwaway PostgreSQL cluster: start(), stop() for an outage, start() again, destroy()."""

    def __init__(self, port: int | None = None):
        # A folder of its own under the temp directory: the postgres user must reach it, and
        # pytest's (or a user's) private temp folders are closed to other users.
        self.folder = Path(tempfile.mkdtemp(prefix="bnlab-chaos-pg-"))
        self.folder.chmod(0o755)
        self.data = self.folder / "pgdata"
        self.port = port or free_port()
        self.as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/bnlab"

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        if self.as_postgres:
            command = ("runuser", "-u", "postgres", "--", *command)
        return subprocess.run(command, capture_output=True, text=True, check=check,
                              timeout=120)

    def create(self) -> PrivatePostgres:
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")
        self.start()
        self._run(_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                  "postgres", "bnlab")
        return self

    def start(self) -> None:
        # fsync off is safe here: an outage stops the server process, not the machine, and
        # the WAL it wrote is replayed from the OS cache. synchronous_commit stays on, as in
        # production: off, a commit the client was told about can vanish in the outage, and
        # the faults would count a lost row as a job lost or run twice.
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off -c max_connections=100")
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.folder / "postgres.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """An outage: the server goes away at once, its backends with it."""
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop",
                  check=False)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis:
    """A redis-server of our own: start(), kill() (its messages are gone), pause(seconds)."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = Path(folder)
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=(self.folder / "redis.log").open("ab"), stderr=subprocess.STDOUT)
        wait_until(self.ping, 30, "redis-server answering")
        return self

    def client(self, timeout: float = 2.0):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=timeout,
                           socket_connect_timeout=timeout)

    def ping(self) -> bool:
        try:
            with self.client(0.5) as client:
                return bool(client.ping())
        except Exception:  # noqa: BLE001 - not up yet
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def pause(self, seconds: float) -> None:
        """Every client's commands hang for `seconds` (a Redis that is stuck, not down)."""
        with self.client() as client:
            client.execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")

    def destroy(self) -> None:
        self.kill()


class WorkerGroup:
    """One Celery worker (main process and its pool) running the probe job, in its own group."""

    def __init__(self, settings, log_path: Path, name: str, concurrency: int = 1,
                 env: dict[str, str] | None = None):
        self.settings, self.log_path, self.name = settings, Path(log_path), name
        self.concurrency, self.extra_env = concurrency, dict(env or {})
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> WorkerGroup:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BNLAB_")}
        env.update(self.settings.child_environment())
        env["OMP_NUM_THREADS"] = "1"
        env.update(self.extra_env)
        command = [sys.executable, "-m", "celery", "-A", "service.chaos.probe", "worker",
                   "-Q", f"{self.settings.gpu_queue},{self.settings.cpu_queue}",
                   "--concurrency", str(self.concurrency), "--max-tasks-per-child", "1",
                   "--pool", "prefork", "--hostname", f"{self.name}@%h", "--loglevel", "info",
                   "--without-gossip", "--without-mingle", "--without-heartbeat"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        offset = log.tell()  # a restarted worker appends: look for "ready" after this
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_until(lambda: self._ready(offset), timeout, f"worker {self.name} ready", 0.2)
        return self

    def _ready(self, offset: int) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"worker {self.name} exited with {self.process.returncode}:\n"
                               + self.log()[-3000:])
        return " ready." in self.log()[offset:]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float) -> bool:
        """Whether the main process ended within `timeout` seconds."""
        try:
            self.process.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self) -> None:
        if not self.alive:
            self.signal_group(signal.SIGKILL)  # pool processes left behind, if any
            return
        self.signal_group(signal.SIGTERM)
        if not self.wait(30):
            self.signal_group(signal.SIGKILL)
            self.wait(10)
        self.signal_group(signal.SIGKILL)
