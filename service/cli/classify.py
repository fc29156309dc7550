"""`bnlab classify TEXT|--file PATH [--json]`: which questions a post asks (the router)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import UsageError


def register(sub) -> None:
    p = sub.add_parser("classify", help="show which question types a post asks")
    p.add_argument("text", nargs="?", help="the post (plain text, Markdown or HTML)")
    p.add_argument("--file", metavar="PATH", help="read the post from a file ('-' for stdin)")
    p.add_argument("--json", action="store_true",
                   help='print {"asks": [...], "not_understood": [...]}')
    p.set_defaults(func=run)


def read_post(args) -> str:
    if (args.text is None) == (args.file is None):
        raise UsageError("give the post as TEXT or with --file PATH (one of the two)")
    if args.text is not None:
        return args.text
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{args.file} is not UTF-8 text") from None


def run(args) -> int:
    from service.router import RouterInputError, route

    try:
        routing = route(read_post(args))
    except RouterInputError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(routing.to_json(), indent=2, ensure_ascii=False))
        return 0
    if not routing.asks:
        print("no question bnlab can answer was found")
    for i, ask in enumerate(routing.asks, 1):
        print(f"{i}. {ask.type}  (confidence {ask.confidence:.2f})")
        print(f"   excerpt: {_short(ask.excerpt)}")
        params = ", ".join(f"{k}={v}" for k, v in ask.params.items()) or "none stated"
        print(f"   params:  {params}")
        for name, why in ask.param_errors.items():
            print(f"   param problem: {name}: {why}")
        for note in ask.notes:
            print(f"   note:    {note}")
    for item in routing.not_understood:
        print(f"not understood: {_short(item.excerpt)}")
        print(f"   closest types: {', '.join(item.suggestions)}")
    for excerpt in routing.off_topic:
        print(f"off topic: {_short(excerpt)}")
    return 0


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "\u2026"
