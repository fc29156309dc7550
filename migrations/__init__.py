"""Alembic environment and revisions: the only way bnlab's schema is made outside tests."""
