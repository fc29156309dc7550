"""Forum posts remember when the bot began creating its reply.

Set just before the create request goes out: a step that finds it set, with no reply
recorded, knows an earlier attempt may have posted (a timeout, a crash, the database gone
before the reply's id was stored) and looks for that reply before posting again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("forum_posts") as batch:
        batch.add_column(sa.Column("reply_started_at", sa.DateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forum_posts") as batch:
        batch.drop_column("reply_started_at")
