"""`bnlab keys create|revoke|list`: API keys. A new key is printed once; only its hash is kept."""

from __future__ import annotations

from . import UsageError


def register(sub) -> None:
    p = sub.add_parser("keys", help="create, revoke and list API keys")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="make a key and print it (once)")
    create.add_argument("name")
    create.set_defaults(func=run_create)
    revoke = actions.add_parser("revoke", help="revoke a key by name")
    revoke.add_argument("name")
    revoke.set_defaults(func=run_revoke)
    listing = actions.add_parser("list", help="list keys (names and prefixes)")
    listing.set_defaults(func=run_list)


def _session():
    from service.config import get_settings
    from service.db import Database

    database = Database(get_settings().database_url)
    database.ensure_schema()
    return database.session()


def run_create(args) -> int:
    from service.auth import ApiKeyError, create_key

    with _session() as session:
        try:
            _, key = create_key(session, args.name)
        except ApiKeyError as exc:
            raise UsageError(str(exc)) from None
    print(key)
    return 0


def run_revoke(args) -> int:
    from service.auth import ApiKeyError, revoke_key

    with _session() as session:
        try:
            revoke_key(session, args.name)
        except ApiKeyError as exc:
            raise UsageError(str(exc)) from None
    print(f"revoked {args.name}")
    return 0


def run_list(args) -> int:
    from service.auth import list_keys

    with _session() as session:
        for key in list_keys(session):
            state = "revoked " + key.revoked_at.strftime("%Y-%m-%d") if key.revoked_at \
                else "active"
            print(f"{key.name:<24} {key.prefix}…  {state}")
    return 0
