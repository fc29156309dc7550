"""The training steps against each other: the graph-safe one (what a CUDA graph captures, run
here without capture), the CPU one that reads the loss on the host, and the one torch.compile
traces whole (run here uncompiled: its gradients as values, the update parameter by
parameter). For every arm type the questions use, all must train identically, and the
graph-safe step must never read a value on the host (a captured graph cannot)."""

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from experiments import augment, datasets, models, trainer
from experiments.optim import BatchedOptimizer

SEEDS = [0, 1]
HOST_READS = {torch.ops.aten._local_scalar_dense.default, torch.ops.aten.item.default}

ARMS = [
    models.Arm("batchnorm", 2),
    models.Arm("batch_renorm", 2, {"r_max": 2.0, "d_max": 1.0, "warmup_steps": 3,
                                   "r_ramp_steps": 5, "d_ramp_steps": 5}),
    models.Arm("ghost_batchnorm", 2, {"ghost_size": 4}),
    models.Arm("noisy_batchnorm", 2, {"level": 0.5}),
    models.Arm("batchnorm_detached", 2),
    models.Arm("ewa_forward", 2),
    models.Arm("groupnorm", 2, {"num_groups": 4}),
    models.Arm("noisy_none", 2),
    models.Arm("none", 2),
]


@pytest.fixture(scope="module")
def data():
    return datasets.load("mnist1d", num_samples=1000)


class HostReads(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in HOST_READS:
            self.count += 1
        return func(*args, **(kwargs or {}))


def build(data, kind="mlp"):
    spec = models.ModelSpec(kind=kind, width=16, depth=2)
    members = SEEDS * len(ARMS)
    model = models.build(spec, members, data.n_features, data.n_classes, arms=ARMS)
    shift = augment.InputShift(len(members), [augment.ShiftArm(slice(0, 2), 0.3)])
    cfg = trainer.TrainConfig(batch_size=16, steps=12, lr=0.05, optimizer="adam", n_evals=1,
                              schedule="cosine", warmup_steps=2, threads=1)
    return trainer.Trainer(model, data, cfg, members, torch.device("cpu"),
                           batch_transform=shift)


def train(t: trainer.Trainer, path: str) -> None:
    torch.manual_seed(7)  # the noise and the input shift draw from the global generator
    (xs, ys) = t._gather(0, t.total)
    step = {"eager": t._step_eager, "graph_safe": t._step,
            "traced": lambda x, y: t._step_traced(t._transform(x), y)}[path]
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        t._set_lr(i)
        step(x, y)


@pytest.mark.parametrize("path", ["graph_safe", "traced"])
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_every_step_trains_every_arm_type_like_the_cpu_step(data, kind, path):
    eager, other = build(data, kind), build(data, kind)
    train(eager, "eager")
    train(other, path)
    for a, b in zip(eager.model.state_dict().values(), other.model.state_dict().values(),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(eager.loss_sum, other.loss_sum, rtol=1e-5, atol=1e-6)


def test_graph_safe_step_never_reads_a_value_on_the_host(data):
    t = build(data)
    (x,), (y,) = t._gather(0, 1)
    with HostReads() as reads:
        t._step(x, y)
    assert reads.count == 0
    with HostReads() as reads:  # the check itself works: the CPU step reads the total loss
        t._step_eager(x, y)
    assert reads.count >= 1


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_every_step_freezes_a_diverged_member_alike(data, optimizer):
    spec = models.ModelSpec(kind="mlp", width=16, depth=2, norm="none")
    runs = []
    for path in ("eager", "graph_safe", "traced"):
        model = models.build(spec, [0, 1, 2], data.n_features, data.n_classes)
        cfg = trainer.TrainConfig(batch_size=32, steps=60, lr=0.05, n_evals=1, threads=1,
                                  optimizer=optimizer, weight_decay=0.01)
        t = trainer.Trainer(model, data, cfg, [0, 1, 2], torch.device("cpu"),
                            lrs=[0.05, 1e6 if optimizer == "sgd" else 1e30, 0.05])
        train(t, path)
        runs.append(t)
    for other in runs[1:]:
        assert runs[0].active.tolist() == other.active.tolist() == [True, False, True]
        for a, b in zip(runs[0].params, other.params, strict=True):
            torch.testing.assert_close(a[[0, 2]], b[[0, 2]])
        assert torch.isfinite(a).all()


def test_flat_buffer_holds_every_parameter_as_a_contiguous_view(data):
    spec = models.ModelSpec(kind="mlp", width=8, depth=2)
    model = models.build(spec, [0, 1, 2, 3], data.n_features, data.n_classes,
                         arms=[models.Arm("batchnorm", 2), models.Arm("groupnorm", 2)])
    owned = models.member_parameters(model)
    before = [p.detach().clone() for p, _ in owned]
    opt = BatchedOptimizer(owned, torch.full((4,), 0.1))
    assert opt.flat.numel() == sum(p.numel() for p, _ in owned)
    for (p, sl), old in zip(owned, before, strict=True):
        assert p.is_contiguous() and p.data_ptr() >= opt.flat.data_ptr()
        torch.testing.assert_close(p.detach(), old)
        # Each value knows its member: an arm's parameters belong to that arm's slice.
        start = sl.start or 0
        assert set(opt.member_of[_offset(opt, p):_offset(opt, p) + p.numel()].tolist()) == set(
            range(start, start + p.shape[0]))
    with torch.no_grad():
        opt.flat.zero_()
    assert all((p == 0).all() for p, _ in owned)


def _offset(opt, param):
    return (param.data_ptr() - opt.flat.data_ptr()) // opt.flat.element_size()


def test_moving_a_parameter_out_of_the_flat_buffer_is_an_error(data):
    spec = models.ModelSpec(kind="mlp", width=8, depth=1)
    model = models.build(spec, [0], data.n_features, data.n_classes)
    opt = BatchedOptimizer(models.member_parameters(model), torch.full((1,), 0.1))
    model.head.weight.data = model.head.weight.data.clone()
    with pytest.raises(RuntimeError, match="flat buffer"):
        opt.zero_grad()


def test_results_do_not_depend_on_the_thread_count(data):
    spec = models.ModelSpec(kind="mlp", width=64, depth=2, norm="batchnorm")
    out = []
    for threads in (1, 2):
        model = models.build(spec, SEEDS, data.n_features, data.n_classes)
        cfg = trainer.TrainConfig(batch_size=64, steps=20, lr=0.05, n_evals=1, threads=threads)
        out.append(trainer.train(model, data, cfg, SEEDS).metrics["test_loss"])
    np.testing.assert_array_equal(out[0], out[1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_captured_graph_trains_every_arm_type_like_eager_cuda(data):
    """On CUDA: the step captured in a graph and replayed against the same step run eagerly.
    Members of noise-drawing arms are only checked to have trained (their draws may come in
    another order once captured)."""
    device = torch.device("cuda")
    runs = []
    for graph in (False, True):
        spec = models.ModelSpec(kind="mlp", width=16, depth=2)
        members = SEEDS * len(ARMS)
        model = models.build(spec, members, data.n_features, data.n_classes, arms=ARMS)
        cfg = trainer.TrainConfig(batch_size=16, steps=20, lr=0.05, n_evals=2,
                                  cuda_graph=graph)
        torch.manual_seed(7)
        torch.cuda.manual_seed(7)
        runs.append(trainer.train(model, data, cfg, members, device=device).metrics)
    noisy = [i for i, arm in enumerate(ARMS) if arm.norm.startswith("noisy")]
    exact = [m for m in range(len(SEEDS) * len(ARMS)) if m // len(SEEDS) not in noisy]
    for name in ("train_loss", "test_loss"):
        np.testing.assert_allclose(runs[1][name][1:, exact], runs[0][name][1:, exact],
                                   rtol=2e-3, atol=2e-4)
        assert np.isfinite(runs[1][name][1:]).all()
