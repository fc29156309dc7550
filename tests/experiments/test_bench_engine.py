"""`bnlab bench engine` runs and prints its table (the figures themselves are not tested)."""

import argparse
import re

import pytest
import torch

from experiments import bench_engine, compile_policy


def test_the_benchmark_prints_one_row_per_batch_size(capsys):
    before = torch.get_num_threads()
    assert bench_engine.main(["--steps", "3", "--rounds", "1", "--batch-sizes", "4,8",
                              "--seeds", "2", "--threads", "1", "--no-compile"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^\s+(\d+)\s+eager\s+[\d.]+\s+[\d.]+\s+[\d.]+x", out, flags=re.M)
    assert rows == ["4", "8"], out
    assert torch.get_num_threads() == before  # both sides put the thread count back


def test_the_cpu_batched_side_is_timed_eager_and_compiled_unless_told():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")

    def modes(*argv):
        args = argparse.Namespace(compile="--compile" in argv, no_compile="--no-compile" in argv,
                                  no_graph="--no-graph" in argv)
        return bench_engine.batched_modes(args, cuda if "cuda" in argv else cpu)

    expected = ["eager", "compiled"] if compile_policy.compiler_available() else ["eager"]
    assert modes() == expected
    assert modes("--compile") == ["compiled"]
    assert modes("--no-compile") == ["eager"]
    assert modes("cuda") == ["graph"]
    assert modes("cuda", "--no-graph") == ["eager"]


def test_compile_and_no_compile_are_refused_together():
    with pytest.raises(SystemExit):
        bench_engine.main(["--compile", "--no-compile"])


def test_the_stopwatch_measures_wall_time_on_the_cpu():
    watch = bench_engine.Stopwatch(torch.device("cpu"))
    watch.start()
    torch.ones(1000).sum()
    assert 0 <= watch.stop() < 5
