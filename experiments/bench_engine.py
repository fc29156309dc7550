"""`bnlab bench engine`: the batched trainer against the plain per-seed loop, same work.

Both train the same MLP (MNIST-1D, 40-128-128-10 with batch norm, SGD with momentum) for the
same number of steps per seed; the plain loop runs one torch.nn model per seed in turn. Prints
wall times, steps per second and the ratio. A benchmark, never a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import time

import torch

from . import datasets, models
from .catalog import pick_device
from .reference import reference_train
from .trainer import TrainConfig, Trainer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_batched(spec, data, cfg, seeds, device) -> float:
    model = models.build(spec, seeds, data.n_features, data.n_classes)
    trainer = Trainer(model, data, cfg, seeds, device)
    _sync(device)
    t0 = time.perf_counter()
    for t in range(trainer.total):
        trainer._run_step(t)
    _sync(device)
    return time.perf_counter() - t0


def time_plain(spec, data, cfg, seeds, device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    for seed in seeds:
        reference_train(seed, spec, data, cfg, device=str(device))
    _sync(device)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bnlab bench engine", description=__doc__)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--batch-sizes", default="8,64")
    parser.add_argument("--steps", type=int, default=500, help="training steps per seed")
    parser.add_argument("--no-graph", action="store_true", help="disable CUDA graph capture")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    data = datasets.load("mnist1d").to(device)
    spec = models.ModelSpec(kind="mlp", width=128, depth=2, norm="batchnorm")
    seeds = list(range(args.seeds))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device: {name}; torch {torch.__version__}; threads {torch.get_num_threads()}; "
          f"{args.seeds} seeds x {args.steps} steps; MLP 40-128-128-10 batchnorm, SGD")
    print(f"{'batch':>5} {'plain s':>9} {'batched s':>10} {'ratio':>7} {'plain st/s':>11} "
          f"{'batched st/s':>13}")
    for b in (int(v) for v in args.batch_sizes.split(",")):
        cfg = TrainConfig(batch_size=b, steps=args.steps, lr=0.02, n_evals=1,
                          cuda_graph=not args.no_graph)
        time_batched(spec, data, TrainConfig(batch_size=b, steps=10, lr=0.02,
                                             cuda_graph=not args.no_graph), seeds, device)
        batched = time_batched(spec, data, cfg, seeds, device)
        plain = time_plain(spec, data, cfg, seeds, device)
        total = args.steps * args.seeds  # seed-steps done by each side
        print(f"{b:>5} {plain:>9.2f} {batched:>10.2f} {plain / batched:>6.1f}x "
              f"{total / plain:>11.0f} {total / batched:>13.0f}")
    return 0
