"""Jobs remember when their message was sent; questions keep their off-topic parts.

`jobs.dispatched_at` is the outbox flag of workers/reconcile.py: null means the message was
never handed to the broker. `questions.off_topic` lists the excerpts the router judged to be
about something else, so the API can say why nothing runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    with op.batch_alter_table("questions") as batch:
        batch.add_column(sa.Column("off_topic", json_type, nullable=False,
                                   server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.drop_column("off_topic")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("dispatched_at")
