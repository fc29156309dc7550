"""JSON columns keep their documents as written on PostgreSQL too.

JSONB stores a parsed form that reorders every object's keys (shorter keys first), so a result
read back from PostgreSQL had its row columns in another order than on SQLite or in the
worker's result.json: the CSV export and the dashboard's tables differed by backend. None of
bnlab's queries look inside these documents, so plain JSON (the text as written) loses
nothing. On SQLite the columns are JSON text already and nothing changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("jobs", "params"), ("questions", "not_understood"), ("questions", "off_topic"),
           ("asks", "params"), ("results", "data"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.JSON(),
                        existing_type=postgresql.JSONB(astext_type=sa.Text()),
                        postgresql_using=f"{column}::json")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=postgresql.JSONB(astext_type=sa.Text()),
                        existing_type=sa.JSON(), postgresql_using=f"{column}::jsonb")
