"""`bnlab ask TEXT|--file PATH`: answer the questions in a text, end to end.

Router → asks → jobs → results, the same path as `POST /api/v1/questions`: with no Redis
configured the jobs run here, on the embedded local worker; with BNLAB_REDIS_URL they go to the
Celery workers and this command waits for them. Prints each answer and writes one
self-contained HTML report to DIR/report.html.
"""

from __future__ import annotations

import getpass
import sys
import textwrap
import time
from pathlib import Path

from . import UsageError

POLL_S = 0.25


def register(sub) -> None:
    p = sub.add_parser("ask", help="answer the questions in a text and write an HTML report")
    p.add_argument("text", nargs="?", help="the question(s), in quotes; or use --file")
    p.add_argument("--file", metavar="PATH", help="read the text from PATH ('-': stdin)")
    p.add_argument("--preset", default="quick", help="smoke | quick | full (default quick)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="folder for report.html (default runs/question-ID)")
    p.add_argument("--fresh", action="store_true",
                   help="run again even where a finished result exists")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="give up waiting after S seconds (the jobs go on)")
    p.set_defaults(func=run)


def read_text(args) -> str:
    if (args.text is None) == (args.file is None):
        raise UsageError("give the text or --file PATH, not both or neither")
    if args.file is None:
        return args.text
    if args.file == "-":
        return sys.stdin.read()
    try:
        return Path(args.file).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None


def run(args) -> int:
    from service.config import get_settings
    from service.db import Database
    from service.questions import InvalidQuestion, submit_question
    from service.router import RouterInputError
    from workers.dispatch import make_dispatcher

    text = read_text(args)
    settings = get_settings()
    db = Database(settings.database_url)
    db.ensure_schema()
    dispatcher = make_dispatcher(settings)
    with db.session() as session:
        try:
            submission = submit_question(session, text, preset=args.preset, fresh=args.fresh,
                                         source="cli", asker=getpass.getuser(),
                                         dispatcher=dispatcher, settings=settings)
        except RouterInputError as exc:
            raise UsageError(str(exc)) from None
        except InvalidQuestion as exc:
            details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
            raise UsageError(f"{exc} ({details})") from None
        question_id = submission.question.id
        job_ids = list(dict.fromkeys(job.id for _, job, _ in submission.asks if job))
        created = [job.id for job in submission.new_jobs]
    try:
        finished = wait_for(db, job_ids, args.timeout)
    except KeyboardInterrupt:
        cancel(db, created)
        raise
    return report(db, question_id, Path(args.out or f"runs/question-{question_id}"), finished)


def wait_for(db, job_ids: list[int], timeout: float | None) -> bool:
    """Show a progress bar per job until all are finished; False on timeout."""
    from service.jobs import eta_seconds
    from service.models import Job

    from .progress import ProgressBar

    deadline = None if timeout is None else time.monotonic() + timeout
    for number, job_id in enumerate(job_ids, 1):
        with db.session() as session:
            job = session.get(Job, job_id)
            label = f"[{number}/{len(job_ids)}] {job.type}"
        bar = ProgressBar(label)
        try:
            while True:
                with db.session() as session:
                    job = session.get(Job, job_id)
                    state, progress, message = job.state, job.progress, job.message
                    eta = eta_seconds(job)
                bar(progress, message, eta)
                if job.finished:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    return False
                time.sleep(POLL_S)
        finally:
            bar.close()
        print(f"{label}: {state}", file=sys.stderr)
    return True


def cancel(db, job_ids: list[int]) -> None:
    from service.jobs import cancel_job

    with db.session() as session:
        for job_id in job_ids:
            cancel_job(session, job_id)


def report(db, question_id: int, out: Path, finished: bool) -> int:
    from service.models import Question
    from service.report import render_report

    with db.session() as session:
        question = session.get(Question, question_id)
        if not question.asks:
            print("No question of a known type was found in the text.")
        ok = finished
        for number, ask in enumerate(question.asks, 1):
            job = ask.job
            print(f"\n{number}. {ask.type} (confidence {ask.confidence:.2f})")
            if job is None:
                print(f"   {ask.note}")
            elif job.result is not None:
                data = job.result.data
                print(f"   {data['title']}\n")
                print(textwrap.fill(data["answer"], width=96))
                if data.get("reproduce"):
                    print(f"\n   reproduce: {data['reproduce']}")
            else:
                ok = False
                print(f"   job {job.id} is {job.state}" + (f": {job.error}" if job.error else ""))
        for item in question.not_understood:
            hint = ", ".join(item.get("suggestions") or [])
            print(f"\nNot understood: {item.get('excerpt', '')!r}"
                  + (f" (closest: {hint})" if hint else ""))
        out.mkdir(parents=True, exist_ok=True)
        path = out / "report.html"
        path.write_text(render_report(question), encoding="utf-8")
    print(f"\nreport: {path}")
    if not finished:
        print("gave up waiting; the jobs go on (see the report for their state)",
              file=sys.stderr)
    return 0 if ok else 1
