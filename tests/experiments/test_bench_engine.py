"""`bnlab bench engine` runs and prints its table (the figures themselves are not tested)."""

import re

import torch

from experiments import bench_engine


def test_the_benchmark_prints_one_row_per_batch_size(capsys):
    before = torch.get_num_threads()
    assert bench_engine.main(["--steps", "3", "--rounds", "1", "--batch-sizes", "4,8",
                              "--seeds", "2", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^\s+(\d+)\s+[\d.]+\s+[\d.]+\s+[\d.]+x", out, flags=re.M)
    assert rows == ["4", "8"], out
    assert torch.get_num_threads() == before  # both sides put the thread count back


def test_the_stopwatch_measures_wall_time_on_the_cpu():
    watch = bench_engine.Stopwatch(torch.device("cpu"))
    watch.start()
    torch.ones(1000).sum()
    assert 0 <= watch.stop() < 5
