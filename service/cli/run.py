"""`bnlab run TYPE`: run one question type's experiment and write result.json plus figures."""

from __future__ import annotations

import json
from pathlib import Path

from . import UsageError


def register(sub) -> None:
    p = sub.add_parser("run", help="run one question type's experiment")
    p.add_argument("type", help="question type id (see `bnlab types`)")
    p.add_argument("--preset", default="quick", help="smoke | quick | full (default quick)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter (repeatable)")
    p.add_argument("--out", default=None, help="output folder (default runs/TYPE-PRESET)")
    p.add_argument("--json", action="store_true", help="print result.json instead of the answer")
    p.set_defaults(func=run)


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set takes KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def run(args) -> int:
    from experiments import catalog

    from .progress import ProgressBar

    qt = catalog.get(args.type)
    overrides: dict = parse_overrides(args.set)
    if args.seeds is not None:
        overrides["seeds"] = args.seeds
    params = qt.resolve(args.preset, overrides)
    out = Path(args.out or f"runs/{qt.id}-{args.preset}")
    bar = ProgressBar(qt.id)
    try:
        result = qt.run(params, args.preset, out, device=args.device, on_progress=bar)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(result.answer)
        if result.reproduce:
            print(f"\nreproduce: {result.reproduce}")
        print()
        print(f"wrote {out / 'result.json'} and {len(result.figures)} figures "
              f"in {result.provenance['duration_s']:.1f} s")
    return 0
