"""`bnlab db upgrade|current`: the database schema, through the Alembic revisions."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("db", help="migrate the database schema")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("upgrade", help="apply the migrations (to head by default)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=upgrade)
    current = actions.add_parser("current", help="print the schema's revision")
    current.set_defaults(func=show_current)


def _database():
    from service.config import get_settings
    from service.db import Database

    return Database(get_settings().database_url)


def upgrade(args) -> int:
    database = _database()
    database.upgrade(args.revision)
    print(f"{database.url.render_as_string(hide_password=True)}: at {database.revision()}")
    return 0


def show_current(args) -> int:
    database = _database()
    current, head = database.revision(), database.head()
    print(f"{current or 'empty'} (head {head})")
    return 0 if current == head else 1
