"""The batched trainer against a plain loop of one nn.Module and one torch.optim per seed.

This equivalence guards all the science: if member m of the batched model did not train as a
model of its own, every comparison across seeds and arms would be wrong.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from experiments import datasets, models, trainer
from experiments.reference import reference_model, reference_train

SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def data():
    d = datasets.load("mnist1d", num_samples=1000)
    return d


CASES = [
    ("mlp", "batchnorm", {}, "sgd"),
    ("mlp", "batch_renorm", {"r_max": 2.0, "d_max": 1.0, "warmup_steps": 5}, "sgd"),
    ("mlp", "groupnorm", {"num_groups": 4}, "sgd"),
    ("mlp", "batchnorm", {}, "adam"),
    ("cnn", "batchnorm", {}, "sgd"),
]


# CUDA runs the captured-graph path; its kernels differ from the CPU's, hence the looser bound.
DEVICES = [("cpu", 2e-4), *([("cuda", 2e-3)] if torch.cuda.is_available() else [])]


@pytest.mark.parametrize(("device", "rtol"), DEVICES)
@pytest.mark.parametrize(("kind", "norm", "options", "optimizer"), CASES)
def test_batched_members_match_independent_runs(data, kind, norm, options, optimizer, device,
                                                rtol):
    spec = models.ModelSpec(kind=kind, width=16, depth=2, norm=norm, norm_options=options)
    cfg = trainer.TrainConfig(batch_size=16, steps=40, optimizer=optimizer,
                              lr=0.05 if optimizer == "sgd" else 3e-3, momentum=0.9,
                              weight_decay=1e-4, n_evals=4)
    if optimizer == "adam":
        # Adam divides by sqrt(v): reduction-order round-off in near-zero gradients (which
        # differs with the thread count) is amplified, so it gets a wider bound.
        rtol *= 5
    model = models.build(spec, SEEDS, data.n_features, data.n_classes)
    hist = trainer.train(model, data, cfg, SEEDS, device=device)
    points = [p for p in hist.steps if p > 0]
    for m, seed in enumerate(SEEDS):
        losses, accs, test_losses = reference_train(seed, spec, data, cfg, set(points),
                                                    device=device)
        # The batched trainer logs the mean training loss over each interval.
        bounds = [0, *points]
        ref_interval = [losses[a:b].mean() for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        np.testing.assert_allclose(hist.metrics["train_loss"][1:, m], ref_interval,
                                   rtol=rtol, atol=rtol / 10)
        np.testing.assert_allclose(hist.metrics["test_loss"][1:, m], test_losses,
                                   rtol=rtol, atol=rtol / 10)
        np.testing.assert_allclose(hist.metrics["test_acc"][1:, m], accs, atol=2.5e-3)


def test_member_init_equals_torch_modules_under_the_same_seed(data):
    spec = models.ModelSpec(kind="mlp", width=8, depth=2, norm="none")
    model = models.build(spec, SEEDS, data.n_features, data.n_classes)
    for m, seed in enumerate(SEEDS):
        ref = reference_model(seed, spec, data.n_features, data.n_classes)
        torch.testing.assert_close(model.blocks[0].layer.weight[m], ref[0].weight.T)
        torch.testing.assert_close(model.blocks[1].layer.bias[m], ref[3].bias)
        torch.testing.assert_close(model.head.weight[m], ref[6].weight.T)


def test_diverged_member_is_frozen_while_others_train(data):
    spec = models.ModelSpec(kind="mlp", width=16, depth=2, norm="none")
    model = models.build(spec, SEEDS, data.n_features, data.n_classes)
    cfg = trainer.TrainConfig(batch_size=32, steps=60, optimizer="sgd", lr=0.05, n_evals=3)
    # Member 1 gets an absurd learning rate and blows up; the others must be unaffected.
    hist = trainer.train(model, data, cfg, SEEDS, lrs=[0.05, 1e6, 0.05])
    assert hist.diverged.tolist() == [False, True, False]
    assert np.isnan(hist.final("test_acc")[1])
    assert np.isfinite(hist.final("test_acc")[[0, 2]]).all()
    weights = model.blocks[0].layer.weight.detach()
    assert torch.isfinite(weights[[0, 2]]).all()

    solo = models.build(spec, [0], data.n_features, data.n_classes)
    solo_hist = trainer.train(solo, data, cfg, [0], lrs=[0.05])
    np.testing.assert_allclose(hist.final("test_loss")[0], solo_hist.final("test_loss")[0],
                               rtol=1e-4)


def test_data_order_is_a_permutation_per_epoch_and_seeded():
    order = trainer.data_order(3, 100, 10, 25)
    assert order.shape == (25, 10)
    first_epoch = order[:10].flatten().sort().values
    assert torch.equal(first_epoch, torch.arange(100))
    assert torch.equal(order, trainer.data_order(3, 100, 10, 25))
    assert not torch.equal(order, trainer.data_order(4, 100, 10, 25))


def test_train_mode_evaluation_uses_batch_statistics_of_training_size(data):
    spec = models.ModelSpec(kind="mlp", width=16, depth=2, norm="batchnorm")
    model = models.build(spec, SEEDS, data.n_features, data.n_classes)
    cfg = trainer.TrainConfig(batch_size=4, steps=30, lr=0.05, eval_train_mode=True,
                              n_evals=1)
    hist = trainer.train(model, data, cfg, SEEDS)
    before = model.blocks[0].norm.running_mean.clone()
    acc = hist.final("train_mode_test_acc")
    assert ((acc >= 0) & (acc <= 1)).all()
    # Evaluation must not have changed the running statistics.
    with torch.no_grad():
        trainer.Trainer(model, data, cfg, SEEDS, torch.device("cpu")).evaluate()
    torch.testing.assert_close(model.blocks[0].norm.running_mean, before)


def test_learning_rate_schedules():
    from experiments.optim import lr_factor

    total = 100
    assert [lr_factor("constant", t, total, warmup=4) for t in range(5)] == [
        0.25, 0.5, 0.75, 1.0, 1.0]
    cosine = [lr_factor("cosine", t, total) for t in range(total)]
    assert cosine[0] == 1.0 and cosine[-1] < 1e-3
    assert all(a >= b for a, b in zip(cosine, cosine[1:], strict=False))
    assert lr_factor("step", 49, total) == 1.0
    assert lr_factor("step", 50, total) == pytest.approx(0.1)
    assert lr_factor("step", 75, total) == pytest.approx(0.01)


def test_schedule_reaches_the_optimizer(data):
    spec = models.ModelSpec(kind="mlp", width=8, depth=1, norm="batchnorm")
    model = models.build(spec, SEEDS, data.n_features, data.n_classes)
    cfg = trainer.TrainConfig(batch_size=32, steps=20, lr=0.1, schedule="cosine", n_evals=1)
    t = trainer.Trainer(model, data, cfg, SEEDS, torch.device("cpu"), lrs=[0.1, 0.2, 0.4])
    t.run()
    # After the last step the learning rate is the cosine factor of step 19 times each base.
    factor = 0.5 * (1 + np.cos(np.pi * 19 / 20))
    np.testing.assert_allclose(t.optimizer.lr.numpy(), np.array([0.1, 0.2, 0.4]) * factor,
                               rtol=1e-6)


def test_training_is_deterministic_on_cpu_for_given_seeds(data):
    spec = models.ModelSpec(kind="mlp", width=16, depth=2, norm="noisy_batchnorm",
                            norm_options={"level": 1.0})
    cfg = trainer.TrainConfig(batch_size=16, steps=30, lr=0.05, n_evals=2)
    runs = []
    for _ in range(2):
        torch.manual_seed(123)  # the noise draws come from the global generator
        model = models.build(spec, SEEDS, data.n_features, data.n_classes)
        runs.append(trainer.train(model, data, cfg, SEEDS).metrics)
    for name in runs[0]:
        np.testing.assert_array_equal(runs[0][name], runs[1][name])


def test_long_cpu_runs_train_through_the_compiler_where_one_is_installed(monkeypatch):
    from experiments import compile_policy as tr

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(tr, "compiler_available", lambda: True)
    assert tr.should_compile(None, tr.COMPILE_MIN_STEPS, cpu)
    assert not tr.should_compile(None, tr.COMPILE_MIN_STEPS - 1, cpu)  # short: not worth it
    assert not tr.should_compile(None, 10**6, cuda)  # CUDA graphs there instead
    assert tr.should_compile(True, 10, cpu) and not tr.should_compile(False, 10**6, cpu)
    on_a_thread = []
    worker = threading.Thread(target=lambda: on_a_thread.append(
        tr.should_compile(None, 10**6, cpu)))
    worker.start()
    worker.join()
    assert on_a_thread == [False]  # runs side by side on threads train eagerly
    monkeypatch.setattr(tr, "compiler_available", lambda: False)
    assert not tr.should_compile(None, 10**6, cpu)


@pytest.mark.slow
def test_the_compiled_step_trains_as_the_eager_one(tmp_path, monkeypatch):
    """Through torch.compile, a model with several arms (running averages, group norm, batch
    renorm) ends where the eager step ends, up to float rounding: test losses within 1%."""
    import importlib

    from experiments import catalog, datasets, models
    from experiments.compile_policy import compiler_available
    from experiments.trainer import TrainConfig, Trainer

    if not compiler_available():
        pytest.skip("no C++ compiler for torch.compile")
    monkeypatch.setenv("BNLAB_DATA_DIR", str(tmp_path))
    spec = importlib.import_module("experiments.questions.small_batch_statistics.spec")
    p = catalog.get("small_batch_statistics").resolve("smoke", {
        "arms": ["batchnorm", "ewa_forward", "groupnorm", "batch_renorm"]})
    data = datasets.load("mnist1d", num_samples=1000)
    seeds = list(range(p["seeds"])) * len(p["arms"])
    accs = []
    for compile_ in (False, True):
        model = models.build(models.ModelSpec(kind="mlp", width=32, depth=2), seeds,
                             data.n_features, data.n_classes,
                             arms=[spec.arm_spec(a, p, 40) for a in p["arms"]])
        cfg = TrainConfig(batch_size=8, steps=40, lr=0.01, n_evals=1, compile=compile_,
                          threads=1)
        run = Trainer(model, data, cfg, seeds, torch.device("cpu"))
        accs.append(run.run().final("test_loss"))
        # The compiled run kept its compiled step (no fallback to eager on an error).
        assert run.compiled == compile_
    # Fused kernels round differently, and 40 steps compound it (about 4e-3 here); a wrong
    # compiled step would be off by far more.
    np.testing.assert_allclose(accs[1], accs[0], rtol=1e-2, atol=1e-2)
