"""`bnlab bench NAME`: benchmarks the repo keeps; each prints its own figures.

Benchmarks measure, they never assert: the numbers go into notes and the README, not tests.
"""

from __future__ import annotations

import argparse
import importlib

# name -> "module:function"; the function takes the remaining argv and returns an exit code.
BENCHMARKS = {
    "engine": "experiments.bench_engine:main",
    "api": "service.bench_api:main",
    "router": "service.router.bench:main",
    "presets": "experiments.bench_presets:main",
    "params": "experiments.bench_params:main",
    "chaos": "service.bench_chaos:main",
    "fuzz": "service.bench_fuzz:main",
    "bot": "service.bot.bench:main",
}


def register(sub) -> None:
    p = sub.add_parser("bench", help="run a benchmark: " + ", ".join(BENCHMARKS))
    p.add_argument("name", choices=sorted(BENCHMARKS))
    p.add_argument("args", nargs=argparse.REMAINDER, help="passed to the benchmark (NAME --help)")
    p.set_defaults(func=run)


def run(args) -> int:
    module, _, function = BENCHMARKS[args.name].partition(":")
    return int(getattr(importlib.import_module(module), function)(args.args) or 0)
