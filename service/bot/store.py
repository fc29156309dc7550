"""The durable state of each forum post the bot acts on (service.models.ForumPost).

    received ──► placeholder ──► answered
       │              └────────► failed
       └──► answered (a short help reply) | failed | ignored (a guard, off topic)

A row is made once per (post id, post version); a repeated or concurrent delivery finds it.
Work on a row happens in steps (service/bot/reply.py), one at a time: a step holds a lease,
taken with one conditional UPDATE, while it talks to the forum. Every change commits.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import OPEN_FORUM_STATES, ForumPost, ForumPostState, utcnow

# Longer than any one step (a few forum calls, each with bounded retries), so a step never
# loses its lease while it runs; a step whose process died frees the post after this.
LEASE = timedelta(minutes=10)
# A post whose open row has not moved for this long has no step chain alive (each step
# touches updated_at, and a waiting chain steps every few seconds): a redelivery restarts it.
STALE = timedelta(minutes=2)


def record_post(session: Session, post: dict, trigger: str) -> tuple[ForumPost, bool]:
    """The row for this post version, and whether this call made it. Commits."""
    key = (int(post["id"]), int(post.get("version") or 1))
    row = ForumPost(post_id=key[0], post_version=key[1], topic_id=int(post["topic_id"]),
                    post_number=int(post["post_number"]), category_id=post.get("category_id"),
                    user_id=int(post["user_id"]), username=str(post["username"])[:100],
                    raw=str(post.get("raw") or ""), trigger=trigger,
                    reply_to_post_number=post.get("reply_to_post_number"),
                    state=ForumPostState.RECEIVED, attempts=0)
    try:
        with session.begin_nested():
            session.add(row)
        session.commit()
        return row, True
    except IntegrityError:
        session.rollback()
    existing = session.scalar(select(ForumPost).where(ForumPost.post_id == key[0],
                                                      ForumPost.post_version == key[1]))
    return existing, False


def needs_restart(row: ForumPost) -> bool:
    """An open row that no step chain is working on (its process went away)."""
    if row.state not in OPEN_FORUM_STATES:
        return False
    updated = aware(row.updated_at)
    return updated is None or utcnow() - updated > STALE


def take_lease(session: Session, row_id: int) -> ForumPost | None:
    """The open row, leased to the caller; None if it is finished or another step holds it."""
    now = utcnow()
    taken = session.execute(
        update(ForumPost)
        .where(ForumPost.id == row_id, ForumPost.state.in_(OPEN_FORUM_STATES),
               (ForumPost.lease_until.is_(None)) | (ForumPost.lease_until < now))
        .values(lease_until=now + LEASE, updated_at=now)
        # The row is read back below; evaluating the condition in Python against a loaded
        # copy would compare SQLite's zone-less timestamps with an aware one.
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    session.commit()
    return session.get(ForumPost, row_id, populate_existing=True) if taken else None


def lease_left(session: Session, row_id: int) -> float | None:
    """Seconds until another step's lease on an open row ends (None: the row is finished).

    A step that finds the lease taken comes back then: if the holder's process died (a Celery
    worker killed mid-step redelivers its task at once), nobody else would carry the post on.
    """
    row = session.get(ForumPost, row_id, populate_existing=True)
    if row is None or row.state not in OPEN_FORUM_STATES:
        return None
    until = aware(row.lease_until)
    return max((until - utcnow()).total_seconds(), 0.0) + 1.0 if until else 1.0


def release(session: Session, row_id: int) -> None:
    session.execute(update(ForumPost).where(ForumPost.id == row_id)
                    .values(lease_until=None, updated_at=utcnow())
                    .execution_options(synchronize_session=False))
    session.commit()


def touch(session: Session, row: ForumPost, **values) -> None:
    """Store `values` on a leased row (question id, attempts)."""
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    session.commit()


def placeholder_posted(session: Session, row: ForumPost, post_id: int, post_number: int,
                       kind: str) -> None:
    _move(session, row, ForumPostState.PLACEHOLDER, reply_post_id=post_id,
          reply_post_number=post_number, kind=kind)


def answered(session: Session, row: ForumPost, *, kind: str, post_id: int | None = None,
             post_number: int | None = None) -> None:
    values = {"kind": kind}
    if post_id is not None:
        values.update(reply_post_id=post_id, reply_post_number=post_number)
    _move(session, row, ForumPostState.ANSWERED, **values)


def failed(session: Session, row: ForumPost, reason: str) -> None:
    _move(session, row, ForumPostState.FAILED, error=reason)


def ignored(session: Session, row: ForumPost, reason: str) -> None:
    """Nothing posted for this row; a reply it had claimed is given back."""
    _move(session, row, ForumPostState.IGNORED, error=reason, kind=None)


def _move(session: Session, row: ForumPost, state: str, **values) -> None:
    now = utcnow()
    row.state = state
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = now
    if state not in OPEN_FORUM_STATES:
        row.finished_at, row.lease_until = now, None
    session.commit()


def claim_reply(session: Session, row: ForumPost, max_in_topic: int,
                max_answers_per_day: int) -> str | None:
    """Check the guards and, if they pass, claim one of the bot's replies for this row, as one
    step: the reason a guard refuses, or None with the claim committed (kind "answer").

    Two posts of one topic (or one user) taken by two workers at once must not both pass a
    guard with one reply left, so the rows they are counted from are locked first: on
    PostgreSQL with SELECT ... FOR UPDATE, in id order so that two claims never wait on each
    other; SQLite's transactions already hold the database's write lock (service.db). A claim
    counts as a reply from then on, while its row is open, before anything is posted.
    """
    neighbours = (ForumPost.topic_id == row.topic_id) | (ForumPost.user_id == row.user_id)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(ForumPost.id).where(neighbours).order_by(ForumPost.id)
                        .with_for_update())
    if _other_replies_in_topic(session, row) >= max_in_topic:
        reason = "guard: the bot has posted its limit in this topic"
    elif _other_answers_for_user_today(session, row) >= max_answers_per_day:
        reason = "guard: this user has had the day's answers"
    else:
        touch(session, row, kind="answer")  # commits, which releases the locks
        return None
    session.rollback()
    return reason


def _holds_reply():
    """A reply posted, or one claimed by a row still being worked on."""
    return ForumPost.reply_post_id.is_not(None) | (
        ForumPost.kind.is_not(None) & ForumPost.state.in_(OPEN_FORUM_STATES))


def _other_replies_in_topic(session: Session, row: ForumPost) -> int:
    return session.scalar(select(func.count()).select_from(ForumPost).where(
        ForumPost.topic_id == row.topic_id, ForumPost.id != row.id, _holds_reply())) or 0


def _other_answers_for_user_today(session: Session, row: ForumPost) -> int:
    """Answers (not help replies) the bot gave or is giving a user over the last 24 hours."""
    since = utcnow() - timedelta(days=1)
    return session.scalar(select(func.count()).select_from(ForumPost).where(
        ForumPost.user_id == row.user_id, ForumPost.id != row.id, ForumPost.kind == "answer",
        _holds_reply(), ForumPost.created_at >= since)) or 0


def recorded_reply_ids(session: Session, topic_id: int) -> set[int]:
    """Ids of the replies rows have recorded in a topic."""
    return set(session.scalars(select(ForumPost.reply_post_id).where(
        ForumPost.topic_id == topic_id, ForumPost.reply_post_id.is_not(None))))


def help_given_in_topic(session: Session, topic_id: int) -> bool:
    return session.scalar(select(func.count()).select_from(ForumPost).where(
        ForumPost.topic_id == topic_id, ForumPost.kind == "help",
        ForumPost.reply_post_id.is_not(None))) > 0


def is_bot_post(session: Session, topic_id: int, post_number: int) -> bool:
    return session.scalar(select(func.count()).select_from(ForumPost).where(
        ForumPost.topic_id == topic_id, ForumPost.reply_post_number == post_number)) > 0


def answer_at(session: Session, topic_id: int, post_number: int) -> ForumPost | None:
    """The row whose reply is the bot's post `post_number` of a topic."""
    return session.scalar(select(ForumPost).where(ForumPost.topic_id == topic_id,
                                                  ForumPost.reply_post_number == post_number))


def aware(moment):
    """SQLite hands timestamps back without their zone; they were stored in UTC."""
    if moment is not None and moment.tzinfo is None:
        from datetime import UTC

        return moment.replace(tzinfo=UTC)
    return moment
