"""The `bnlab` command line: one module per command group, registered by name below.

Each module exposes `register(subparsers)`, which adds its parser(s) and sets `func`. Heavy
imports (torch, Flask, SQLAlchemy) happen inside the handlers, so `bnlab --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Command modules in service/cli/, in the order `bnlab --help` lists them.
COMMANDS = (
    "types",
    "classify",
    "run",
    "bench",
    "ask",
    "serve",
    "worker",
    "db",
    "keys",
    "admin",
    "bot",
)


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bnlab", description="Answer Batch Normalization questions with live experiments.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from experiments.errors import ExperimentError
    from service.config import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, ExperimentError, ConfigError) as exc:
        print(f"bnlab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
