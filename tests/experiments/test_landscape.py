"""The batched ICS and loss-landscape probes against a plain per-member computation.

The reference below is written from the definitions (Santurkar et al. 2018) with nothing from
the batched engine: one member at a time, a functional MLP on plain tensors, autograd per
member. Everything runs in float64 so the two can agree to round-off.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from experiments import landscape, models
from experiments.trainer import ProbeState, TrainConfig

ARMS = (("batchnorm", 2), ("batchnorm_detached", 2), ("none", 2))
WIDTH, DEPTH, N_IN, N_CLASSES, BATCH = 6, 3, 5, 4, 16
EPS = 1e-5  # the norms' default
STEPS = (0.05, 0.2, 0.8)


@pytest.fixture(scope="module")
def setup():
    """A batched model with three arms, its gamma, beta and biases moved off their initial
    values (so every term of the reference matters), and one batch per member."""
    members = sum(n for _, n in ARMS)
    seeds = [0, 1] * len(ARMS)
    spec = models.ModelSpec(width=WIDTH, depth=DEPTH)
    model = models.build(spec, seeds, N_IN, N_CLASSES,
                         arms=[models.Arm(norm, n) for norm, n in ARMS]).double()
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    x = torch.randn(members, BATCH, N_IN, generator=gen, dtype=torch.float64) * 2 + 1
    y = torch.randint(0, N_CLASSES, (members, BATCH), generator=gen)
    return model, x, y


def norm_kinds() -> list[str]:
    return [norm for norm, n in ARMS for _ in range(n)]


def member_params(model: models.Network, m: int) -> list[torch.Tensor]:
    """Member m's parameters in forward order, per block [W (in, out), b, gamma, beta] (no
    gamma and beta without a norm), then the head's W and b; fresh leaf tensors."""
    out = []
    for block in model.blocks:
        out += [block.layer.weight[m], block.layer.bias[m]]
        start = 0
        for size, norm in zip(block.norm.sizes, block.norm.arms, strict=True):
            if start <= m < start + size and hasattr(norm, "weight"):
                out += [norm.weight[m - start], norm.bias[m - start]]
            start += size
    out += [model.head.weight[m], model.head.bias[m]]
    return [t.detach().clone().requires_grad_(True) for t in out]


def block_sizes(kind: str) -> int:
    return 2 if kind == "none" else 4


def plain_loss(params: list[torch.Tensor], kind: str, x: torch.Tensor, y: torch.Tensor
               ) -> torch.Tensor:
    """One member's MLP written out: linear -> norm (train mode) -> ReLU, then the head."""
    h, i = x, 0
    for _ in range(DEPTH):
        w, b = params[i], params[i + 1]
        h = h @ w + b
        if kind != "none":
            gamma, beta = params[i + 2], params[i + 3]
            mu, var = h.mean(0), h.var(0, unbiased=False)
            if kind == "batchnorm_detached":
                mu, var = mu.detach(), var.detach()
            h = (h - mu) / torch.sqrt(var + EPS) * gamma + beta
        h = torch.relu(h)
        i += block_sizes(kind)
    return F.cross_entropy(h @ params[i] + params[i + 1], y)


def plain_grads(params, kind, x, y):
    loss = plain_loss(params, kind, x, y)
    return loss.detach(), torch.autograd.grad(loss, params)


def plain_ics(params, kind, x, y, step):
    """Per block i >= 1: (||G - G'||, cos(G, G'), ||G - G'|| / ||G||)."""
    _, grads = plain_grads(params, kind, x, y)
    per = block_sizes(kind)
    out = []
    for i in range(1, DEPTH):
        moved = [(p - step * g).detach() if k < i * per else p.detach()
                 for k, (p, g) in enumerate(zip(params, grads, strict=True))]
        moved = [t.requires_grad_(True) for t in moved]
        _, new = plain_grads(moved, kind, x, y)
        g, g2 = grads[i * per].flatten(), new[i * per].flatten()
        out.append(((g - g2).norm().item(), F.cosine_similarity(g, g2, dim=0).item(),
                    ((g - g2).norm() / g.norm()).item()))
    return out


def plain_landscape(params, kind, x, y, steps):
    loss0, g0 = plain_grads(params, kind, x, y)
    g_norm = torch.sqrt(sum((g * g).sum() for g in g0))
    losses, dists, betas = [loss0.item()], [], []
    for eta in steps:
        moved = [(p - eta * g).detach().requires_grad_(True)
                 for p, g in zip(params, g0, strict=True)]
        loss, grads = plain_grads(moved, kind, x, y)
        dist = torch.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(grads, g0, strict=True)))
        losses.append(loss.item())
        dists.append(dist.item())
        betas.append((dist / (eta * g_norm)).item())
    return {"landscape_loss": losses, "landscape_grad_dist": dists,
            "loss_variation": max(losses) - min(losses), "grad_predictiveness": max(dists),
            "beta_smoothness": max(betas)}


def test_ics_matches_a_plain_per_member_computation(setup):
    model, x, y = setup
    step = torch.tensor([0.1, 0.3, 0.1, 0.3, 0.1, 0.3], dtype=torch.float64)
    got = landscape.internal_covariate_shift(model, x, y, step)
    for key in ("ics_l2", "ics_cosine", "ics_relative"):
        assert got[key].shape == (len(step), DEPTH)
        assert torch.isnan(got[key][:, 0]).all()  # block 0 has nothing below it
    for m, kind in enumerate(norm_kinds()):
        ref = plain_ics(member_params(model, m), kind, x[m], y[m], step[m].item())
        for i, (l2, cos, rel) in enumerate(ref, start=1):
            assert got["ics_l2"][m, i].item() == pytest.approx(l2, rel=1e-7, abs=1e-12)
            assert got["ics_cosine"][m, i].item() == pytest.approx(cos, rel=1e-9)
            assert got["ics_relative"][m, i].item() == pytest.approx(rel, rel=1e-7, abs=1e-12)
    assert (got["ics_l2"][:, 1:] > 0).all()  # the probe measured something


def test_landscape_matches_a_plain_per_member_computation(setup):
    model, x, y = setup
    got = landscape.loss_landscape(model, x, y, STEPS)
    assert got["landscape_loss"].shape == (x.shape[0], len(STEPS) + 1)
    for m, kind in enumerate(norm_kinds()):
        ref = plain_landscape(member_params(model, m), kind, x[m], y[m], STEPS)
        for key, value in ref.items():
            np.testing.assert_allclose(got[key][m].numpy(), value, rtol=1e-7, atol=1e-12,
                                       err_msg=f"{key}, member {m} ({kind})")


def test_probes_leave_the_model_untouched(setup):
    model, x, y = setup
    before = {k: v.clone() for k, v in model.state_dict().items()}
    landscape.internal_covariate_shift(model, x, y, torch.full((x.shape[0],), 0.5,
                                                                dtype=torch.float64))
    landscape.loss_landscape(model, x, y, STEPS)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key  # parameters and running statistics
    assert all(p.grad is None for p in model.parameters())


def test_a_zero_step_gives_no_shift(setup):
    model, x, y = setup
    got = landscape.internal_covariate_shift(model, x, y, torch.zeros(x.shape[0],
                                                                      dtype=torch.float64))
    torch.testing.assert_close(got["ics_l2"][:, 1:], torch.zeros(x.shape[0], DEPTH - 1,
                                                                 dtype=torch.float64))
    torch.testing.assert_close(got["ics_cosine"][:, 1:], torch.ones(x.shape[0], DEPTH - 1,
                                                                    dtype=torch.float64))


def test_an_inactive_member_is_nan_and_does_not_disturb_the_others(setup):
    model, x, y = setup
    x_bad = x.clone()
    x_bad[3] = float("nan")  # member 3 diverged: its loss is NaN
    active = torch.ones(x.shape[0], dtype=torch.bool)
    active[3] = False
    step = torch.full((x.shape[0],), 0.2, dtype=torch.float64)
    clean_ics = landscape.internal_covariate_shift(model, x, y, step)
    clean_land = landscape.loss_landscape(model, x, y, STEPS)
    ics = landscape.internal_covariate_shift(model, x_bad, y, step, active)
    land = landscape.loss_landscape(model, x_bad, y, STEPS, active)
    keep = active.clone()
    for got, clean in ((ics, clean_ics), (land, clean_land)):
        for key, value in got.items():
            assert torch.isnan(value[3]).all(), key
            torch.testing.assert_close(value[keep], clean[key][keep], equal_nan=True)


def test_probe_wrappers_return_numpy_per_member(setup):
    model, x, y = setup
    members = x.shape[0]
    state = ProbeState(model=model, step=10, data=None, config=TrainConfig(batch_size=BATCH),
                       batch=(x, y), lr=torch.full((members,), 0.1, dtype=torch.float64),
                       active=torch.ones(members, dtype=torch.bool))
    ics = landscape.InternalCovariateShift()(state)  # the member's learning rate as the step
    same = landscape.internal_covariate_shift(model, x, y, state.lr)
    np.testing.assert_array_equal(ics["ics_l2"], same["ics_l2"].numpy())
    land = landscape.LossLandscape(STEPS)(state)
    assert set(land) == {"landscape_loss", "landscape_grad_dist", "landscape_distance",
                         "loss_variation", "grad_predictiveness", "beta_smoothness"}
    assert all(isinstance(v, np.ndarray) and v.shape[0] == members for v in land.values())


def test_member_norms_sum_each_members_slice():
    a = torch.arange(12, dtype=torch.float64).view(3, 4)  # members 0..2
    b = torch.ones(2, 2, dtype=torch.float64)  # an arm's parameter: members 1..2
    got = landscape.member_norms([a, b], [slice(0, 3), slice(1, 3)], 3)
    want = torch.tensor([a[0].norm() ** 2, a[1].norm() ** 2 + 2, a[2].norm() ** 2 + 2]).sqrt()
    torch.testing.assert_close(got, want.double())
