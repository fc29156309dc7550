"""`bnlab admin create NAME`: a dashboard user. The password comes from a prompt (typed twice)
or, for scripts, from the first line of standard input with --password-stdin."""

from __future__ import annotations

import sys

from . import UsageError


def register(sub) -> None:
    p = sub.add_parser("admin", help="manage dashboard admin users")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="make an admin user")
    create.add_argument("name")
    create.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input")
    create.set_defaults(func=run_create)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise UsageError("the two passwords differ")
    return password


def run_create(args) -> int:
    from service.admins import AdminUserError, check_password_rules, create_admin
    from service.config import get_settings
    from service.db import Database

    password = read_password(args.password_stdin)
    try:
        check_password_rules(password)  # before touching the database
    except AdminUserError as exc:
        raise UsageError(str(exc)) from None
    database = Database(get_settings().database_url)
    database.ensure_schema()
    try:
        with database.session() as session:
            create_admin(session, args.name, password)
    except AdminUserError as exc:
        raise UsageError(str(exc)) from None
    finally:
        database.dispose()
    print(f"created admin user {args.name}")
    return 0
