"""`bnlab worker`: a Celery worker for the job queues (needs BNLAB_REDIS_URL).

A worker that serves the GPU queue starts a fresh process for every job (max tasks per child
1), so each job gets a clean CUDA context and GPU memory is returned when it ends, and by
default runs one job at a time: start one worker per GPU.
"""

from __future__ import annotations

from . import UsageError


def register(sub) -> None:
    p = sub.add_parser("worker", help="run a Celery worker for the job queues")
    p.add_argument("-Q", "--queues", default=None,
                   help="comma-separated queues (default: the gpu and cpu queues)")
    p.add_argument("-c", "--concurrency", type=int, default=None,
                   help="processes (default 1 with the gpu queue, else the CPU count)")
    p.add_argument("-n", "--hostname", default=None, help="node name, e.g. gpu0@%%h")
    p.add_argument("-l", "--loglevel", default="info")
    p.set_defaults(func=run)


def celery_argv(args, settings) -> list[str]:
    queues = args.queues or f"{settings.gpu_queue},{settings.cpu_queue}"
    argv = ["worker", "-Q", queues, "--loglevel", args.loglevel]
    gpu = settings.gpu_queue in queues.split(",")
    concurrency = args.concurrency or (1 if gpu else None)
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if gpu:
        argv += ["--max-tasks-per-child", "1"]
    if args.hostname:
        argv += ["--hostname", args.hostname]
    return argv


def run(args) -> int:
    from service.config import get_settings

    settings = get_settings()
    if not settings.redis_url:
        raise UsageError("a worker needs BNLAB_REDIS_URL; without Redis, jobs run inside "
                         "`bnlab serve` and `bnlab ask`")
    from workers.celery_app import app

    app.worker_main(celery_argv(args, settings))
    return 0
