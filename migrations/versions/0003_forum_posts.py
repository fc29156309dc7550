"""Forum posts the Discourse bot acts on, one row per (post id, post version).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "forum_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("post_version", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("post_number", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("reply_to_post_number", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("reply_post_id", sa.Integer(), nullable=True),
        sa.Column("reply_post_number", sa.Integer(), nullable=True),
        sa.Column("question_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        timestamp("lease_until", nullable=True),
        timestamp("created_at"),
        timestamp("updated_at"),
        timestamp("finished_at", nullable=True),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"],
                                name=op.f("fk_forum_posts_question_id_questions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forum_posts")),
        # A redelivered or concurrent event for the same post finds this row, never a second.
        sa.UniqueConstraint("post_id", "post_version", name=op.f("uq_forum_posts_post_id")),
    )
    op.create_index(op.f("ix_forum_posts_topic_id"), "forum_posts", ["topic_id"])
    op.create_index(op.f("ix_forum_posts_user_id"), "forum_posts", ["user_id"])
    op.create_index(op.f("ix_forum_posts_state"), "forum_posts", ["state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_forum_posts_state"), table_name="forum_posts")
    op.drop_index(op.f("ix_forum_posts_user_id"), table_name="forum_posts")
    op.drop_index(op.f("ix_forum_posts_topic_id"), table_name="forum_posts")
    op.drop_table("forum_posts")
