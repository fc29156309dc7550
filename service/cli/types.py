"""`bnlab types [--json]`: the catalog of question types."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("types", help="list the question types")
    p.add_argument("--json", action="store_true", help="print the catalog as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from experiments import catalog

    entries = [qt.to_json() for qt in catalog.types().values()]
    if args.json:
        print(json.dumps({"types": entries}, indent=2))
        return 0
    width = max(len(e["id"]) for e in entries)
    for e in entries:
        print(f"{e['id']:<{width}}  {e['status']:<7}  {e['title']}")
    return 0
