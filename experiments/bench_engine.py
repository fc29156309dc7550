"""`bnlab bench engine`: the batched trainer against the plain per-seed loop, same work.

Both train the same MLP (MNIST-1D, 40-128-128-10 with batch norm, SGD with momentum) for the
same number of steps per seed; the plain loop runs one torch.nn model per seed in turn
(experiments.reference). On the CPU the batched side is timed both eager and with the whole
step through torch.compile (the way jobs of 30,000 steps or more train, see
experiments.compile_policy), each against the same plain runs; on CUDA, its graph path. Each
batch size is timed in `--rounds` rounds, the sides taking turns within each round (in an
order that rotates) so that a change in the machine's load hits all alike; the table gives
the median round. All sides use the same intra-op thread count: by default the one the
batched trainer chose by timing its first steps (experiments.threads). A benchmark, never a
test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace

import torch

from . import datasets, models
from .catalog import pick_device
from .compile_policy import compiler_available
from .reference import reference_train
from .trainer import TrainConfig, Trainer


class Stopwatch:
    """Seconds of device work between start() and stop(): CUDA events on a GPU (the time the
    GPU spent, not when the host happened to look), the wall clock elsewhere."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        if self.cuda:
            self._start = torch.cuda.Event(enable_timing=True)
            self._stop = torch.cuda.Event(enable_timing=True)

    def start(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            self._start.record()
        else:
            self._t0 = time.perf_counter()

    def stop(self) -> float:
        if self.cuda:
            self._stop.record()
            self._stop.synchronize()
            return self._start.elapsed_time(self._stop) / 1000.0
        return time.perf_counter() - self._t0


def time_batched(spec, data, cfg, seeds, device) -> tuple[float, int]:
    """Seconds for all training steps of all seeds at once, and the thread count used."""
    model = models.build(spec, seeds, data.n_features, data.n_classes)
    trainer = Trainer(model, data, cfg, seeds, device)
    watch = Stopwatch(device)
    watch.start()
    trainer.train_steps(0, trainer.total)
    seconds = watch.stop()
    threads = torch.get_num_threads()
    if trainer.threads is not None:
        trainer.threads.restore()
    return seconds, threads


def time_plain(spec, data, cfg, seeds, device, threads: int) -> float:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        watch = Stopwatch(device)
        watch.start()
        for seed in seeds:
            reference_train(seed, spec, data, cfg, device=str(device))
        return watch.stop()
    finally:
        torch.set_num_threads(before)


def bench_batch_size(spec, data, seeds, device, args, b: int,
                     modes: list[str]) -> dict[str, dict[str, float]]:
    """Per mode of the batched side: the median plain and batched seconds over the rounds, and
    the median of the ratios. The sides take turns in an order that rotates every round."""
    configs = {mode: TrainConfig(batch_size=b, steps=args.steps, lr=0.02, n_evals=1,
                                 cuda_graph=not args.no_graph, threads=args.threads,
                                 compile=mode == "compiled") for mode in modes}
    # The batched warm-ups also compile (the compiled mode); the timed runs reuse that code.
    threads = torch.get_num_threads()
    for cfg in configs.values():
        _, threads = time_batched(spec, data, replace(cfg, steps=10), seeds, device)
    # The plain side warms up too, so neither side's timings carry one-time costs (lazy
    # initialisation of kernels and allocators on the first calls).
    time_plain(spec, data, replace(configs[modes[0]], steps=10), seeds[:1], device, threads)
    plains: list[float] = []
    batched: dict[str, list[float]] = {mode: [] for mode in modes}
    used: list[int] = []
    for r in range(args.rounds):
        sides = ["plain", *modes]
        sides = sides[r % len(sides):] + sides[:r % len(sides)]
        for side in sides:
            if side == "plain":
                # The thread count the batched side chose last: both sides use the same.
                plains.append(time_plain(spec, data, configs[modes[0]], seeds, device, threads))
            else:
                seconds, threads = time_batched(spec, data, configs[side], seeds, device)
                batched[side].append(seconds)
                used.append(threads)
    out = {}
    for mode in modes:
        ratios = [p / s for p, s in zip(plains, batched[mode], strict=True)]
        out[mode] = {"plain": statistics.median(plains),
                     "batched": statistics.median(batched[mode]),
                     "ratio": statistics.median(ratios), "low": min(ratios),
                     "high": max(ratios), "threads": statistics.mode(used)}
    return out


def batched_modes(args, device: torch.device) -> list[str]:
    """How the batched side trains: on CUDA its graph path (or eager with --no-graph); on the
    CPU eager and through torch.compile, each timed against the same plain runs, or only one
    of them (--compile, --no-compile)."""
    if device.type == "cuda":
        return ["eager" if args.no_graph else "graph"]
    if args.compile:
        return ["compiled"]
    if args.no_compile or not compiler_available():
        return ["eager"]
    return ["eager", "compiled"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bnlab bench engine", description=__doc__)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--batch-sizes", default="8,64,128")
    parser.add_argument("--steps", type=int, default=300, help="training steps per seed")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per batch size")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU intra-op threads for both sides (default: chosen by timing)")
    parser.add_argument("--no-graph", action="store_true", help="disable CUDA graph capture")
    one_mode = parser.add_mutually_exclusive_group()
    one_mode.add_argument("--compile", action="store_true",
                          help="CPU: time only the batched side trained through torch.compile")
    one_mode.add_argument("--no-compile", action="store_true",
                          help="CPU: time only the eager batched side")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    modes = batched_modes(args, device)
    if "compiled" in modes:
        # Every timed run builds a new model, which torch.compile specialises its code for;
        # past its default of 8 versions it would silently fall back to eager.
        torch._dynamo.config.recompile_limit = 64
    data = datasets.load("mnist1d").to(device)
    spec = models.ModelSpec(kind="mlp", width=128, depth=2, norm="batchnorm")
    seeds = list(range(args.seeds))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device: {name}; torch {torch.__version__}; {os.cpu_count()} cores, load "
          f"{_load()}; {args.seeds} seeds x {args.steps} steps, {args.rounds} rounds; "
          f"MLP 40-128-128-10 batchnorm, SGD; batched side: {', '.join(modes)}")
    print(f"{'batch':>5} {'mode':>8} {'plain s':>9} {'batched s':>10} {'ratio':>7} "
          f"{'(min-max)':>13} {'threads':>7} {'plain st/s':>11} {'batched st/s':>13}")
    for b in (int(v) for v in args.batch_sizes.split(",")):
        for mode, r in bench_batch_size(spec, data, seeds, device, args, b, modes).items():
            total = args.steps * args.seeds  # seed-steps done by each side
            spread = f"{r['low']:.1f}-{r['high']:.1f}"
            print(f"{b:>5} {mode:>8} {r['plain']:>9.2f} {r['batched']:>10.2f} "
                  f"{r['ratio']:>6.1f}x {spread:>13} "
                  f"{r['threads'] if device.type == 'cpu' else '-':>7} "
                  f"{total / r['plain']:>11.0f} {total / r['batched']:>13.0f}", flush=True)
    print(f"load at the end: {_load()}")
    return 0


def _load() -> str:
    """The 1-minute load average: how busy the machine was with other work."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "n/a"
