"""The bot's reply to one forum post, in resumable steps.

`advance(context, row_id)` does the next step for a post's row and returns in how many seconds
to call it again (None: nothing left). The embedded runner and the Celery task
(workers/forum_reply.py) both just call it, so there is one code path:

1. received: check the guards, route the post, submit its questions (jobs are shared by key,
   as for the API), then post a short placeholder;
2. placeholder: once every job has finished, upload the key figures and edit the placeholder
   into the answer (or, when no job succeeded, into a short apology with the reason).

Every step is safe to repeat: what it did is on the row before it moves on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from experiments import catalog

from .. import forum
from ..models import ForumPost, ForumPostState, Question, utcnow
from ..questions import InvalidQuestion, submit_question
from ..router import RouterInputError, route
from . import followup, store
from .discourse import Discourse, DiscourseError, Posted, RateLimited, Rejected, Unavailable

log = logging.getLogger(__name__)

POLL_S = 2.0  # while jobs run
MAX_UNAVAILABLE = 4  # steps that found the forum unreachable before the post is given up
UNAVAILABLE_BACKOFF_S = 30.0  # times the count so far


@dataclass
class BotContext:
    settings: object  # service.config.Settings
    db: object  # service.db.Database
    discourse: Discourse
    dispatcher: object  # workers.dispatch.Dispatcher, for the jobs


def advance(ctx: BotContext, row_id: int) -> float | None:
    with ctx.db.session() as session:
        row = store.take_lease(session, row_id)
        if row is None:  # finished, or another step holds it: look again when its lease ends
            return store.lease_left(session, row_id)
        try:
            return _step(ctx, session, row)
        except RateLimited as exc:
            log.warning("forum post %s: %s; again in %.0f s", row.post_id, exc, exc.retry_after)
            return exc.retry_after
        except Rejected as exc:
            log.warning("forum post %s: the forum refused: %s", row.post_id, exc)
            _give_up(ctx, session, row, f"the forum refused a request: {exc}")
        except Unavailable as exc:
            store.touch(session, row, attempts=row.attempts + 1)
            if row.attempts < MAX_UNAVAILABLE:
                log.warning("forum post %s: %s; step %s of %s", row.post_id, exc, row.attempts,
                            MAX_UNAVAILABLE)
                return UNAVAILABLE_BACKOFF_S * row.attempts
            _give_up(ctx, session, row, f"the forum was unreachable: {exc}")
        except Exception as exc:  # noqa: BLE001 - a post is never left dangling
            session.rollback()
            log.exception("forum post %s: step failed", row.post_id)
            _give_up(ctx, session, row, f"{type(exc).__name__}: {exc}")
        finally:
            store.release(session, row_id)
        return None


def _step(ctx: BotContext, session: Session, row: ForumPost) -> float | None:
    if row.state == ForumPostState.RECEIVED:
        if row.question_id is None and not _submit(ctx, session, row):
            return None
        posted = _create_post(ctx, session, row, forum.PLACEHOLDER)
        store.placeholder_posted(session, row, posted.id, posted.post_number, kind="answer")
        log.info("forum post %s: placeholder %s posted", row.post_id, posted.id)
    return _finish_when_done(ctx, session, row)


def _submit(ctx: BotContext, session: Session, row: ForumPost) -> bool:
    """Guards, routing and jobs; False when the post is done with (ignored or replied to)."""
    settings = ctx.settings
    refused = store.claim_reply(session, row, settings.discourse_max_posts_per_topic,
                                settings.discourse_max_answers_per_user_day)
    if refused is not None:
        store.ignored(session, row, refused)
        log.info("forum post %s: %s", row.post_id, refused)
        return False
    text, given = followup.compose(session, row, settings.discourse_username)
    try:
        routing = route(text)
    except RouterInputError as exc:
        store.ignored(session, row, f"the router refused the text: {exc}")
        return False
    # In public, a nearest-type guess is not worth minutes of experiments and a long post:
    # the asker gets the short "what I can answer" reply instead.
    if not [a for a in routing.asks if not a.nearest]:
        return _unplaced(ctx, session, row, [n.to_json() for n in routing.not_understood])
    try:
        submission = submit_question(session, text, preset=settings.discourse_preset,
                                     source="bot", asker=row.username[:200],
                                     dispatcher=ctx.dispatcher, settings=settings,
                                     params=given)
    except InvalidQuestion as exc:
        session.rollback()
        _reply(ctx, session, row, forum.render_refusal(str(exc), exc.fields), kind="refusal")
        return False
    store.touch(session, row, question_id=submission.question.id)
    log.info("forum post %s: question %s, %s asks", row.post_id, submission.question.id,
             len(submission.asks))
    return True


def _unplaced(ctx: BotContext, session: Session, row: ForumPost, not_understood: list) -> bool:
    """No question placed: a short "what I can answer" reply once per topic, if the post
    asked something about normalization at all; an off-topic post gets nothing."""
    if not not_understood:
        store.ignored(session, row, "off topic: no question about normalization")
    elif store.help_given_in_topic(session, row.topic_id):
        store.ignored(session, row, "not placeable; the topic already has the help reply")
    else:
        _reply(ctx, session, row, forum.render_help(not_understood, list(catalog.types().values())),
               kind="help")
    return False


def _reply(ctx: BotContext, session: Session, row: ForumPost, raw: str, kind: str) -> None:
    posted = _create_post(ctx, session, row, raw)
    store.answered(session, row, kind=kind, post_id=posted.id, post_number=posted.post_number)


def _finish_when_done(ctx: BotContext, session: Session, row: ForumPost) -> float | None:
    question = session.get(Question, row.question_id)
    jobs = [ask.job for ask in question.asks if ask.job is not None]
    if any(not job.finished for job in jobs):
        if utcnow() - store.aware(row.created_at) > _patience(ctx, len(jobs)):
            _give_up(ctx, session, row, "the experiments did not finish in time")
            return None
        return POLL_S
    succeeded = [job for job in jobs if job.result is not None]
    if jobs and not succeeded:
        reasons = "\n".join(f"- {job.type}: {job.error or job.state}" for job in jobs)
        _give_up(ctx, session, row, reasons)
        return None
    images = {job.id: _upload_figures(ctx, job) for job in succeeded}
    origin = forum.Origin(row.username, row.post_number, row.topic_id)
    ctx.discourse.edit_post(row.reply_post_id, forum.render_answer(question, origin, images),
                            edit_reason="measured answer")
    store.answered(session, row, kind="answer")
    log.info("forum post %s: answered in post %s", row.post_id, row.reply_post_id)
    return None


def _create_post(ctx: BotContext, session: Session, row: ForumPost, raw: str) -> Posted:
    """Reply to the row's post, once. Discourse refuses a user's repeat of their own words
    within `unique_posts_mins` (5 by default; the bot's user is not staff), and the
    placeholder and the help reply are the same words every time, so each reply ends with an
    HTML comment naming the row it answers: unique, and not shown.

    A create request can succeed without its answer reaching us (a proxy timeout, then our
    retry; a crash or a database outage before the reply's id is stored), so the moment it
    goes out is recorded first, and a later attempt looks for the reply before posting."""
    if row.reply_started_at is not None:
        found = _find_own_reply(ctx, session, row)
        if found is not None:
            log.info("forum post %s: found reply %s from an earlier attempt", row.post_id,
                     found.id)
            return found
    store.touch(session, row, reply_started_at=utcnow())
    unique = f"{raw}\n\n<!-- bnlab reply {row.id} -->"
    try:
        return ctx.discourse.create_post(row.topic_id, unique, row.post_number)
    except Rejected:
        # "Too similar to what you recently posted": an attempt that went through after all.
        found = _find_own_reply(ctx, session, row)
        if found is None:
            raise
        return found


def _find_own_reply(ctx: BotContext, session: Session, row: ForumPost) -> Posted | None:
    """The bot's reply to this row's post that no other row has claimed, if the forum has it;
    None also when the topic cannot be read (then posting is the only way on)."""
    try:
        return ctx.discourse.find_reply(row.topic_id, row.post_number,
                                        skip=store.recorded_reply_ids(session, row.topic_id))
    except (Rejected, Unavailable) as exc:
        log.warning("forum post %s: could not look for an earlier reply: %s", row.post_id, exc)
        return None


def _upload_figures(ctx: BotContext, job) -> list[forum.Image]:
    """The job's first figures (the key ones come first in a result) as forum uploads."""
    stored = {figure.name: figure for figure in job.figures}
    out = []
    for entry in job.result.data.get("figures", [])[:forum.IMAGES_PER_QUESTION]:
        figure = stored.get(entry["name"])
        if figure is None:
            continue
        upload = ctx.discourse.upload_image(f"{job.type}-{figure.name}.png", figure.data,
                                            figure.content_type)
        out.append(forum.Image(entry.get("caption", ""), upload.short_url, upload.width,
                               upload.height))
    return out


def _patience(ctx: BotContext, job_count: int) -> timedelta:
    """How long jobs may take before the post is answered with an apology: each one its
    hard time limit, in turn (one worker may run them one after another), and a margin."""
    return timedelta(seconds=max(job_count, 1) * ctx.settings.hard_time_limit + 600)


def _give_up(ctx: BotContext, session: Session, row: ForumPost, reason: str) -> None:
    """End the post failed; a placeholder that is up becomes a short apology."""
    if row.state == ForumPostState.PLACEHOLDER and row.reply_post_id is not None:
        try:
            ctx.discourse.edit_post(row.reply_post_id, forum.render_apology(reason),
                                    edit_reason="the experiment did not finish")
        except DiscourseError as exc:
            log.warning("forum post %s: the apology could not be posted: %s", row.post_id, exc)
            reason += f" (and the apology could not be posted: {exc})"
    store.failed(session, row, reason)
