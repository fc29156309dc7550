"""`bnlab bench api`: request latency of the HTTP API in its distributed shape.

Starts gunicorn (`service.wsgi:app`) on a throwaway PostgreSQL schema with Redis, both on
loopback; answers one question once (its smoke run, in this process) so that it is cached;
then a second process sends, one at a time, N `POST /api/v1/questions` of that question and N
`GET /api/v1/jobs/<id>` of its job, and the median and 99th percentile latency and the error
count of each are printed. Targets: median < 20 ms, p99 < 100 ms, no errors.

    bnlab bench api -- --requests 1000 --workers 2
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from urllib.parse import quote

QUESTION = ("With batch size 32 the batch mean and variance are noisy. Why not normalize with "
            "the running averages during training too?")
TARGET_MEDIAN_MS, TARGET_P99_MS = 20.0, 100.0
WARMUP = 100  # requests per kind not counted: each gunicorn worker's first ones load the router


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bnlab bench api", description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=500, help="requests of each kind (500)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (2)")
    p.add_argument("--concurrency", type=int, default=1,
                   help="client connections at once, each a thread of the client process (1)")
    p.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                   help="PostgreSQL database to make the throwaway schema in")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="Redis URL")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv or [])
    import sqlalchemy as sa

    token = secrets.token_hex(4)
    schema = f"bnlab_bench_{token}"
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in args.postgres else "?"
    database_url = f"{args.postgres}{separator}options={quote(f'-csearch_path={schema}')}"
    server = None
    try:
        settings, key, job_id = prepare(database_url, args.redis, token)
        port = free_port()
        server = start_gunicorn(settings, port, args.workers)
        context = multiprocessing.get_context("spawn")  # a clean process, not a fork of this
        with context.Pool(1) as pool:
            results = pool.apply(measure, (port, key, job_id, args.requests, args.concurrency))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        forget_redis_keys(args.redis, token)
    return report(results, args)


def prepare(database_url: str, redis_url: str, token: str):
    """Migrate, make a key, and answer the question once: (settings, key, job id)."""
    from service.auth import create_key
    from service.config import Settings
    from service.db import Database
    from service.questions import submit_question
    from workers.execute import execute_job

    settings = Settings.from_env(environ={}, overrides={
        "database_url": database_url, "redis_url": redis_url,
        # The benchmark's own queues (nothing consumes them) and a limit it cannot reach.
        "gpu_queue": f"bench-gpu-{token}", "cpu_queue": f"bench-cpu-{token}",
        "rate_limit": "1000000/60"})
    database = Database(database_url)
    database.upgrade()
    with database.session() as session:
        _, key = create_key(session, f"bench-{token}")
        submission = submit_question(session, QUESTION, preset="smoke", source="api",
                                     settings=settings)
        (job,) = submission.new_jobs
        job_id = job.id
    print(f"answering the question once (job {job_id}, smoke preset)...", file=sys.stderr)
    state = execute_job(job_id, settings=settings, db=database)
    if state != "succeeded":
        raise RuntimeError(f"the warm-up job ended {state}")
    database.dispose()
    return settings, key, job_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(settings, port: int, workers: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BNLAB_")}
    env.update(settings.child_environment())
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning", "service.wsgi:app"],
        env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            if request(port, "GET", "/readyz")[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("gunicorn did not get ready within 60 s")


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def measure(port: int, key: str, job_id: int, n: int, concurrency: int = 1
            ) -> dict[str, dict]:
    """Runs in the client process: latencies (ms) and errors per kind of request, with
    `concurrency` requests in flight at once."""
    from concurrent.futures import ThreadPoolExecutor

    auth = {"Authorization": f"Bearer {key}"}
    post_body = json.dumps({"text": QUESTION, "preset": "smoke"}).encode()
    kinds = {
        "POST /api/v1/questions (cached)": (
            "POST", "/api/v1/questions", post_body,
            {**auth, "Content-Type": "application/json"}, 202),
        f"GET  /api/v1/jobs/{job_id}": ("GET", f"/api/v1/jobs/{job_id}", None, auth, 200),
    }

    def timed(spec) -> tuple[float, bool]:
        method, path, body, headers, expected = spec
        t0 = time.perf_counter()
        try:
            status, payload = request(port, method, path, body, headers)
            ok = status == expected and (method == "GET" or b'"cached":true' in payload)
        except OSError:
            ok = False
        return 1000 * (time.perf_counter() - t0), ok

    results = {}
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for name, spec in kinds.items():
            list(pool.map(timed, [spec] * WARMUP))
            done = list(pool.map(timed, [spec] * n))
            results[name] = {"latencies": [t for t, _ in done],
                             "errors": sum(not ok for _, ok in done)}
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def report(results: dict[str, dict], args) -> int:
    print(f"bnlab API latency: gunicorn ({args.workers} sync workers), PostgreSQL and Redis "
          f"on loopback, {os.cpu_count()} CPUs; {args.concurrency} request(s) at a time from a "
          "second process")
    print(f"{'request':<36} {'n':>5} {'median ms':>10} {'p99 ms':>8} {'max ms':>8} {'errors':>7}")
    met = True
    for name, r in results.items():
        median, p99 = statistics.median(r["latencies"]), percentile(r["latencies"], 99)
        print(f"{name:<36} {len(r['latencies']):>5} {median:>10.1f} {p99:>8.1f} "
              f"{max(r['latencies']):>8.1f} {r['errors']:>7}")
        met &= median < TARGET_MEDIAN_MS and p99 < TARGET_P99_MS and r["errors"] == 0
    print(f"targets (median < {TARGET_MEDIAN_MS:.0f} ms, p99 < {TARGET_P99_MS:.0f} ms, "
          f"no errors): {'met' if met else 'NOT met'}")
    return 0


def forget_redis_keys(redis_url: str, token: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"*{token}*"):
        client.delete(key)
    client.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
