"""Intra-op threads chosen by timing real steps: the faster count wins, the start is restored."""

import pytest
import torch

from experiments import threads
from experiments.result import RunContext


class FakeClock:
    """perf_counter for the tuner: a step takes `cost[threads]` seconds."""

    def __init__(self, cost):
        self.now, self.cost = 0.0, cost

    def __call__(self):
        return self.now

    def step(self, tuner):
        tuner.before_step()
        self.now += self.cost[torch.get_num_threads()]
        tuner.after_step()


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("cost", "chosen"), [({1: 1.0, 2: 3.0}, 1), ({1: 2.0, 2: 1.0}, 2)])
def test_the_faster_thread_count_is_kept(monkeypatch, two_threads, cost, chosen):
    clock = FakeClock(cost)
    monkeypatch.setattr(threads.time, "perf_counter", clock)
    tuner = threads.ThreadTuner(recheck_s=100.0)
    for _ in range(10):
        clock.step(tuner)
    assert tuner.current == chosen and torch.get_num_threads() == chosen
    tuner.restore()
    assert torch.get_num_threads() == 2


def test_the_choice_is_checked_again_when_the_load_changes(monkeypatch, two_threads):
    clock = FakeClock({1: 1.0, 2: 3.0})
    monkeypatch.setattr(threads.time, "perf_counter", clock)
    tuner = threads.ThreadTuner(recheck_s=20.0)
    for _ in range(8):
        clock.step(tuner)
    assert tuner.current == 1
    clock.cost = {1: 4.0, 2: 1.0}  # the other work on the machine stopped
    for _ in range(20):
        clock.step(tuner)
    assert tuner.current == 2


def test_a_fixed_count_is_used_as_given(two_threads):
    tuner = threads.ThreadTuner(1)
    tuner.before_step()
    assert torch.get_num_threads() == 1
    tuner.after_step()
    tuner.restore()
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError):
        threads.ThreadTuner(0)


def test_run_progress_is_clipped_and_never_goes_backwards(tmp_path):
    seen = []
    ctx = RunContext({}, "smoke", tmp_path, torch.device("cpu"),
                     on_progress=lambda f, m: seen.append(f))
    for f in (0.2, 0.1, 1.5, 0.9):
        ctx.progress(f, "x")
    assert seen == [0.2, 0.2, 1.0, 1.0]


def test_a_run_follows_the_share_of_the_cores_as_it_changes(monkeypatch, two_threads):
    """Where the embedded worker shares the cores, a run started beside another gets one
    thread, takes the second once it runs alone (if timing says it helps), and gives it back
    when another run starts."""
    share = [1]
    monkeypatch.setattr(threads, "_budget", lambda: share[0])
    clock = FakeClock({1: 2.0, 2: 1.0})
    monkeypatch.setattr(threads.time, "perf_counter", clock)
    tuner = threads.ThreadTuner(recheck_s=1000.0)
    for _ in range(5):
        clock.step(tuner)
    assert tuner.candidates == [1] and torch.get_num_threads() == 1
    share[0] = 2  # the other run finished
    for _ in range(6):
        clock.step(tuner)
    assert tuner.current == 2 and torch.get_num_threads() == 2
    share[0] = 1  # another run started
    clock.step(tuner)
    assert torch.get_num_threads() == 1
    tuner.restore()
    assert torch.get_num_threads() == 2


def test_an_experiment_starts_with_its_share_where_one_is_set(monkeypatch, two_threads):
    from experiments.catalog import cpu_threads

    cpu = torch.device("cpu")
    monkeypatch.setattr(threads, "_budget", None)
    with cpu_threads(cpu):
        assert torch.get_num_threads() == 1  # nothing shares the cores out: one thread
    monkeypatch.setattr(threads, "_budget", lambda: 2)
    with cpu_threads(cpu):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 2
