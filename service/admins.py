"""Dashboard admin users: created from the command line, checked at sign-in.

Passwords are stored only as werkzeug's salted scrypt hash, which is slow on purpose: unlike
API keys (service/auth.py), a password may be guessable, so each guess must cost real work.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .models import AdminUser, utcnow

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
PASSWORD_MIN = 10
PASSWORD_MAX = 1024  # scrypt reads the whole password; a megabyte "password" is an attack
HASH_METHOD = "scrypt"

# Checked when the user is unknown, so that a wrong name takes as long as a wrong password
# and the response time does not tell which names exist.
_DUMMY_HASH = generate_password_hash("not a password of anyone", method=HASH_METHOD)


class AdminUserError(ValueError):
    """A user name or password is malformed, or the name is taken."""


def check_password_rules(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise AdminUserError(f"a password is {PASSWORD_MIN} to {PASSWORD_MAX} characters; "
                             f"got {len(password)}")


def create_admin(session: Session, username: str, password: str) -> AdminUser:
    """A new admin user. Commits."""
    if not USERNAME_PATTERN.match(username):
        raise AdminUserError("a user name is 1-100 letters, digits, '_', '.', '@' or '-', "
                             f"starting with a letter or digit; got {username!r}")
    check_password_rules(password)
    row = AdminUser(username=username, created_at=utcnow(),
                    password_hash=generate_password_hash(password, method=HASH_METHOD))
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AdminUserError(f"an admin user named {username!r} exists already") from None
    return row


def authenticate(session: Session, username: str, password: str) -> AdminUser | None:
    """The user when `password` is theirs, else None. Records the sign-in time. Commits."""
    row = None
    if USERNAME_PATTERN.match(username or "") and len(password or "") <= PASSWORD_MAX:
        row = session.scalar(select(AdminUser).where(AdminUser.username == username))
    if row is None:
        check_password_hash(_DUMMY_HASH, password[:PASSWORD_MAX] if password else "")
        return None
    if not check_password_hash(row.password_hash, password):
        return None
    row.last_login_at = utcnow()
    session.commit()
    return row
