"""API keys: made once and shown once, stored only as a hash, checked on every API request.

Keys are 32 random bytes, so a plain sha256 is enough to store them (a slow password hash
guards guessable secrets, which these are not) and lets a key be found by its hash directly.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import ApiKey, utcnow

KEY_PREFIX = "bnlab_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")


class ApiKeyError(ValueError):
    """A key name is malformed, taken, or unknown."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, name: str) -> tuple[ApiKey, str]:
    """A new key for `name`: (row, the key itself). The key is not stored; show it once."""
    if not NAME_PATTERN.match(name):
        raise ApiKeyError("a key name is 1-100 letters, digits, '_', '.', '@' or '-', "
                        f"starting with a letter or digit; got {name!r}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, key_hash=hash_key(key), prefix=key[:12], created_at=utcnow())
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiKeyError(f"a key named {name!r} exists already (names stay taken after "
                        "revoking, so logs keep meaning one key)") from None
    return row, key


def revoke_key(session: Session, name: str) -> ApiKey:
    row = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if row is None:
        raise ApiKeyError(f"no key named {name!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()
    return row


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def verify_key(session: Session, key: str) -> ApiKey | None:
    """The active key row for `key`, or None for an unknown or revoked key."""
    if not key.startswith(KEY_PREFIX):
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked_at is not None:
        return None
    return row
