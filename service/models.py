"""The database tables, as SQLAlchemy 2 typed models.

A question is what someone posted; the router splits it into asks, and each ask of a ready type
points at the job that answers it. A job is one experiment run, shared by every ask with the
same job key (type, params, preset, code version). The job row is the truth about its state;
the queue only carries its id. Results and figures belong to a job; figures are PNG bytes.

The schema itself is made by the Alembic revisions in migrations/; `Base.metadata` is what they
are checked against.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints, so that migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSON text on every backend: PostgreSQL's JSONB would reorder the keys of every object
# (migrations/versions/0005), and no query looks inside these documents.
JSONType = JSON()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        datetime: DateTime(timezone=True),
    }


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)
FINAL_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # sha256 of the whole key; the key itself is shown once and never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The key's first characters, so people can tell their keys apart in `bnlab keys list`.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class AdminUser(Base):
    """Someone who may sign in to the dashboard (`bnlab admin create NAME`)."""

    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    # werkzeug's salted scrypt hash ("scrypt:32768:8:1$salt$hash"); never the password.
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class Question(Base):
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))  # api, cli, bot, dashboard
    asker: Mapped[str | None] = mapped_column(String(200))  # API key name or user name
    preset: Mapped[str] = mapped_column(String(10))
    # Parts of the text the router could not place: [{excerpt, suggestions}].
    not_understood: Mapped[list[Any]] = mapped_column(default=list)
    # Parts of the text the router judged to be about something other than BN: [excerpt].
    off_topic: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    asks: Mapped[list[Ask]] = relationship(
        back_populates="question", order_by="Ask.position", cascade="all, delete-orphan")


class Ask(Base):
    __tablename__ = "asks"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    excerpt: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # as read from the text
    # Null while the type is planned (no experiment yet); `note` then says so.
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(200))

    question: Mapped[Question] = relationship(back_populates="asks")
    job: Mapped[Job | None] = relationship()


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of (type, params, preset, code version): jobs.job_key().
    key: Mapped[str] = mapped_column(String(64), index=True)
    # The key while the job is queued or running, null once it has finished. UNIQUE, so two
    # identical requests at the same moment cannot both create a job: the second insert fails.
    active_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    preset: Mapped[str] = mapped_column(String(10))
    params: Mapped[dict[str, Any]]
    code_version: Mapped[str] = mapped_column(String(80))
    queue: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(String(64))  # the broker's id, to revoke it
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED, index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1
    message: Mapped[str] = mapped_column(String(200), default="queued")
    # Starts so far; a start that finds the count at the limit fails the job instead.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))  # host and pid of the last start
    device: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    # Last progress write or heartbeat: a running job whose updated_at is older than
    # settings.stale_after has lost its worker (workers/reconcile.py).
    updated_at: Mapped[datetime | None]
    # When the job's message was last handed to the broker; null while it has not been (the
    # send failed or has not happened yet), which the reconciler reads as "send it".
    dispatched_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    result: Mapped[Result | None] = relationship(
        back_populates="job", cascade="all, delete-orphan")
    figures: Mapped[list[Figure]] = relationship(
        back_populates="job", order_by="Figure.id", cascade="all, delete-orphan")

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES


class Result(Base):
    __tablename__ = "results"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"),
                                        primary_key=True)
    data: Mapped[dict[str, Any]]  # Result.to_json(), the contract of architecture.md
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    job: Mapped[Job] = relationship(back_populates="result")


class Figure(Base):
    __tablename__ = "figures"
    __table_args__ = (UniqueConstraint("job_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    caption: Mapped[str] = mapped_column(Text, default="")
    content_type: Mapped[str] = mapped_column(String(50), default="image/png")
    sha256: Mapped[str] = mapped_column(String(64))  # also the HTTP ETag
    data: Mapped[bytes] = mapped_column(LargeBinary)

    job: Mapped[Job] = relationship(back_populates="figures")


class ForumPostState(enum.StrEnum):
    RECEIVED = "received"  # the webhook stored it; nothing posted yet
    PLACEHOLDER = "placeholder"  # the short "working on it" reply is up; jobs are running
    ANSWERED = "answered"  # the reply holds its final text
    FAILED = "failed"  # the reply (if any) says why it could not answer
    IGNORED = "ignored"  # acted on, then nothing to post (a guard, or off topic)


OPEN_FORUM_STATES = (ForumPostState.RECEIVED, ForumPostState.PLACEHOLDER)


class ForumPost(Base):
    """One forum post the bot acts on, keyed by (post id, post version): a redelivered event
    has a new event id but the same post, so it finds this row instead of making a second."""

    __tablename__ = "forum_posts"
    __table_args__ = (UniqueConstraint("post_id", "post_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(Integer)
    post_version: Mapped[int] = mapped_column(Integer)
    topic_id: Mapped[int] = mapped_column(Integer, index=True)
    post_number: Mapped[int] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    username: Mapped[str] = mapped_column(String(100))
    raw: Mapped[str] = mapped_column(Text)
    trigger: Mapped[str] = mapped_column(String(20))  # topic, mention or reply
    # The post number this one replies to (a bot answer, for follow-ups).
    reply_to_post_number: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=ForumPostState.RECEIVED, index=True)
    kind: Mapped[str | None] = mapped_column(String(16))  # answer, help or refusal
    # The bot's reply: the placeholder, later edited into the answer.
    reply_post_id: Mapped[int | None] = mapped_column(Integer)
    reply_post_number: Mapped[int | None] = mapped_column(Integer)
    # When the request creating that reply went out; with no reply recorded, an earlier
    # attempt may have posted it (service/bot/reply.py looks before posting again).
    reply_started_at: Mapped[datetime | None]
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id"))
    error: Mapped[str | None] = mapped_column(Text)
    # Steps that met an unreachable forum; bounded, then the post is failed.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # One step at a time per post: a step holds this lease while it talks to the forum.
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    question: Mapped[Question | None] = relationship()
