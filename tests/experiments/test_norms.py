"""Batched norms against per-member torch references and hand computations (float64, CPU)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from experiments.errors import ParamError
from experiments.norms import NORMS, make_norm, norm_names, train_mode_eval

M, N, C, L = 3, 8, 4, 5
SHAPES = [(M, N, C), (M, N, C, L)]
SHAPE_IDS = ["features", "signal"]
RUNNING_STATS_NORMS = ["batchnorm", "batchnorm_detached", "ewa_forward", "batch_renorm",
                       "ghost_batchnorm", "noisy_batchnorm"]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def batch(shape, seed=0):
    """Inputs far from zero mean and unit scale, so normalization visibly changes them."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen, dtype=torch.float64) * 3 + 2


def stat_dims(x):
    return (1,) if x.dim() == 3 else (1, 3)


def per_channel(t, x):
    """(M, C) or (C,) -> broadcastable against x of shape (M, N, C[, L])."""
    t = t if t.dim() == 2 else t.unsqueeze(0)
    return t.reshape(t.shape[0], 1, t.shape[1], *([1] * (x.dim() - 3)))


def batch_moments(x):
    """Biased per-member per-channel moments of x, keepdim, computed by hand."""
    dims = stat_dims(x)
    mean = x.mean(dim=dims, keepdim=True)
    return mean, ((x - mean) ** 2).mean(dim=dims, keepdim=True)


def randomized(name, **options):
    """A float64 norm whose gammas, betas and running stats differ per member."""
    norm = make_norm(name, C, M, **options).double()
    with torch.no_grad():
        if hasattr(norm, "weight"):
            norm.weight.uniform_(0.5, 2.0)
            norm.bias.normal_()
        if hasattr(norm, "running_mean"):
            norm.running_mean.normal_()
            norm.running_var.uniform_(0.5, 2.0)
    return norm


def run(module, x, upstream):
    """Output and input gradient of sum(module(x) * upstream)."""
    x = x.detach().clone().requires_grad_()
    y = module(x)
    (y * upstream).sum().backward()
    return y.detach(), x.grad


def torch_batchnorms(norm):
    """One nn.BatchNorm1d per member, holding that member's parameters and running stats."""
    refs = []
    for m in range(M):
        bn = nn.BatchNorm1d(C, eps=norm.eps, momentum=norm.momentum).double()
        with torch.no_grad():
            bn.weight.copy_(norm.weight[m])
            bn.bias.copy_(norm.bias[m])
            bn.running_mean.copy_(norm.running_mean[m])
            bn.running_var.copy_(norm.running_var[m])
        refs.append(bn)
    return refs


def run_members(refs, x, upstream):
    outs = [run(ref, x[m], upstream[m]) for m, ref in enumerate(refs)]
    return torch.stack([y for y, _ in outs]), torch.stack([g for _, g in outs])


def twin(name, source, **options):
    """A `name` norm with the same parameters and buffers as `source`."""
    norm = make_norm(name, C, M, **options).double()
    norm.load_state_dict(source.state_dict())
    return norm


# --- batchnorm ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_batchnorm_matches_torch_per_member(shape):
    norm = randomized("batchnorm")
    refs = torch_batchnorms(norm)
    for step in range(3):
        x, upstream = batch(shape, seed=step), torch.randn(shape, dtype=torch.float64)
        y, grad = run(norm, x, upstream)
        y_ref, grad_ref = run_members(refs, x, upstream)
        assert_close(y, y_ref)
        assert_close(grad, grad_ref)
    assert_close(norm.running_mean, torch.stack([r.running_mean for r in refs]))
    assert_close(norm.running_var, torch.stack([r.running_var for r in refs]))
    assert norm.num_batches_tracked.item() == 3
    assert_close(norm.weight.grad, torch.stack([r.weight.grad for r in refs]))
    assert_close(norm.bias.grad, torch.stack([r.bias.grad for r in refs]))

    norm.eval()
    for ref in refs:
        ref.eval()
    x, upstream = batch(shape, seed=9), torch.randn(shape, dtype=torch.float64)
    y, grad = run(norm, x, upstream)
    y_ref, grad_ref = run_members(refs, x, upstream)
    assert_close(y, y_ref)
    assert_close(grad, grad_ref)
    assert norm.num_batches_tracked.item() == 3


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_batchnorm_input_gradient_is_orthogonal_to_ones_and_xhat(shape):
    norm = randomized("batchnorm", eps=0.0)
    x, upstream = batch(shape), torch.randn(shape, dtype=torch.float64)
    _, grad = run(norm, x, upstream)
    mean, var = batch_moments(x)
    xhat = (x - mean) / var.sqrt()
    dims = stat_dims(x)
    assert grad.abs().max() > 1e-3
    assert_close(grad.sum(dim=dims), torch.zeros(M, C, dtype=torch.float64), atol=1e-10, rtol=0)
    assert_close((grad * xhat).sum(dim=dims), torch.zeros(M, C, dtype=torch.float64),
                 atol=1e-10, rtol=0)


def test_batchnorm_needs_more_than_one_value_per_channel():
    with pytest.raises(ValueError, match="more than 1 value"):
        make_norm("batchnorm", C, M)(torch.randn(M, 1, C))


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_detached_batchnorm_has_bn_forward_and_gradient_without_stats(shape):
    norm = randomized("batchnorm_detached")
    bn = twin("batchnorm", norm)
    x, upstream = batch(shape), torch.randn(shape, dtype=torch.float64)
    y, grad = run(norm, x, upstream)
    y_bn, grad_bn = run(bn, x, upstream)
    assert_close(y, y_bn)
    assert_close(norm.running_mean, bn.running_mean)
    assert_close(norm.running_var, bn.running_var)
    _, var = batch_moments(x)
    assert_close(grad, per_channel(norm.weight.detach(), x) / (var + norm.eps).sqrt() * upstream)
    assert not torch.allclose(grad, grad_bn)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_ewa_forward_normalizes_with_updated_running_stats(shape):
    norm = randomized("ewa_forward")
    rm0, rv0 = norm.running_mean.clone(), norm.running_var.clone()
    x, upstream = batch(shape), torch.randn(shape, dtype=torch.float64)
    y, grad = run(norm, x, upstream)

    dims = stat_dims(x)
    rm = 0.9 * rm0 + 0.1 * x.mean(dim=dims)
    rv = 0.9 * rv0 + 0.1 * x.var(dim=dims, correction=1)
    assert_close(norm.running_mean, rm)
    assert_close(norm.running_var, rv)
    gamma, beta = per_channel(norm.weight.detach(), x), per_channel(norm.bias.detach(), x)
    scale = gamma / (per_channel(rv, x) + norm.eps).sqrt()
    assert_close(y, (x - per_channel(rm, x)) * scale + beta)
    assert_close(grad, scale * upstream)

    norm.eval()
    y_eval, _ = run(norm, x, upstream)
    assert_close(y_eval, y)
    assert_close(norm.running_mean, rm)


# --- batch renorm -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_batch_renorm_without_slack_is_batchnorm(shape):
    bn = randomized("batchnorm")
    brn = twin("batch_renorm", bn, r_max=1.0, d_max=0.0, momentum=0.1)
    for step in range(3):
        x, upstream = batch(shape, seed=step), torch.randn(shape, dtype=torch.float64)
        y, grad = run(brn, x, upstream)
        y_bn, grad_bn = run(bn, x, upstream)
        assert_close(y, y_bn)
        assert_close(grad, grad_bn)
    assert_close(brn.running_mean, bn.running_mean)
    assert_close(brn.running_var, bn.running_var)
    assert_close(brn.weight.grad, bn.weight.grad)
    assert_close(brn.bias.grad, bn.bias.grad)


def far_running_stats(norm):
    """Channels 0-1 see sigma_B/sigma >> r_max and mu_B >> mu; channels 2-3 the opposite."""
    with torch.no_grad():
        norm.running_mean.copy_(torch.tensor([-100.0, -100.0, 1e4, 1e4]).expand(M, C))
        norm.running_var.copy_(torch.tensor([1e-4, 1e-4, 1e4, 1e4]).expand(M, C))


def renorm_by_hand(norm, x, r, d):
    """((x - mu_B) / sigma_B * r + d) * gamma + beta with r, d given per channel (C,)."""
    mean, var = batch_moments(x)
    xhat = (x - mean) / (var + norm.eps).sqrt() * per_channel(r, x) + per_channel(d, x)
    return xhat * per_channel(norm.weight.detach(), x) + per_channel(norm.bias.detach(), x)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_batch_renorm_clips_r_and_d_at_their_limits(shape):
    norm = randomized("batch_renorm")
    far_running_stats(norm)
    rm0, rv0 = norm.running_mean.clone(), norm.running_var.clone()
    x = batch(shape)
    y = norm(x)
    r = torch.tensor([3.0, 3.0, 1 / 3, 1 / 3], dtype=torch.float64)
    d = torch.tensor([5.0, 5.0, -5.0, -5.0], dtype=torch.float64)
    assert_close(y, renorm_by_hand(norm, x, r, d))
    dims = stat_dims(x)
    assert_close(norm.running_mean, 0.99 * rm0 + 0.01 * x.mean(dim=dims))
    assert_close(norm.running_var, 0.99 * rv0 + 0.01 * x.var(dim=dims, correction=1))


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_batch_renorm_treats_r_and_d_as_constants(shape):
    """Unclipped, y equals (x - mu) / sigma; only with r and d constant is dL/dx = r * BN's."""
    norm = randomized("batch_renorm", r_max=100.0, d_max=100.0)
    bn = twin("batchnorm", norm)
    x, upstream = batch(shape), torch.randn(shape, dtype=torch.float64)
    gamma, beta = per_channel(norm.weight.detach(), x), per_channel(norm.bias.detach(), x)
    mu = per_channel(norm.running_mean.clone(), x)
    sigma = (per_channel(norm.running_var.clone(), x) + norm.eps).sqrt()
    y, grad = run(norm, x, upstream)
    _, grad_bn = run(bn, x, upstream)
    _, var = batch_moments(x)
    assert_close(y, (x - mu) / sigma * gamma + beta)
    assert_close(grad, (var + norm.eps).sqrt() / sigma * grad_bn)


def test_batch_renorm_warmup_then_ramp_schedule():
    norm = randomized("batch_renorm", momentum=1e-6, warmup_steps=2, r_ramp_steps=4,
                      d_ramp_steps=2)
    far_running_stats(norm)
    r_limits = [1.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.0]
    d_limits = [0.0, 0.0, 2.5, 5.0, 5.0, 5.0, 5.0]
    for step, (r_max, d_max) in enumerate(zip(r_limits, d_limits, strict=True)):
        x = batch((M, N, C, L), seed=step)
        r = torch.tensor([r_max, r_max, 1 / r_max, 1 / r_max], dtype=torch.float64)
        d = torch.tensor([d_max, d_max, -d_max, -d_max], dtype=torch.float64)
        assert_close(norm(x), renorm_by_hand(norm, x, r, d), msg=f"step {step}")
    norm.update_stats = False
    norm(batch((M, N, C, L)))
    assert norm.num_batches_tracked.item() == len(r_limits)


# --- groupnorm and layernorm --------------------------------------------------------------------

def copy_affine(ref, norm, m):
    with torch.no_grad():
        ref.weight.copy_(norm.weight[m])
        ref.bias.copy_(norm.bias[m])
    return ref


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize(("name", "groups"), [("groupnorm", 2), ("layernorm", 1)])
def test_group_and_layer_norm_match_torch_groupnorm_per_member(shape, name, groups):
    norm = randomized(name, num_groups=groups) if name == "groupnorm" else randomized(name)
    refs = [copy_affine(nn.GroupNorm(groups, C, eps=norm.eps).double(), norm, m)
            for m in range(M)]
    x, upstream = batch(shape), torch.randn(shape, dtype=torch.float64)
    for train in (True, False):
        norm.train(train)
        y, grad = run(norm, x, upstream)
        y_ref, grad_ref = run_members(refs, x, upstream)
        assert_close(y, y_ref)
        assert_close(grad, grad_ref)
    assert_close(norm.weight.grad, torch.stack([r.weight.grad for r in refs]))


def test_layernorm_matches_torch_layernorm_on_features():
    norm = randomized("layernorm")
    refs = [copy_affine(nn.LayerNorm(C, eps=norm.eps).double(), norm, m) for m in range(M)]
    x, upstream = batch((M, N, C)), torch.randn(M, N, C, dtype=torch.float64)
    y, grad = run(norm, x, upstream)
    y_ref, grad_ref = run_members(refs, x, upstream)
    assert_close(y, y_ref)
    assert_close(grad, grad_ref)


@pytest.mark.parametrize(("channels", "groups"), [(64, 32), (25, 5), (12, 4), (10, 5), (7, 1)])
def test_groupnorm_default_groups(channels, groups):
    assert make_norm("groupnorm", channels).num_groups == groups


def test_groupnorm_rejects_groups_that_do_not_divide_channels():
    with pytest.raises(ParamError, match="num_groups"):
        make_norm("groupnorm", 4, num_groups=3)


# --- ghost batch norm, stat groups, train-mode evaluation --------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_ghost_batchnorm_over_whole_batch_is_batchnorm(shape):
    bn = randomized("batchnorm")
    ghost = twin("ghost_batchnorm", bn, ghost_size=N)
    x, upstream = batch(shape), torch.randn(shape, dtype=torch.float64)
    for got, want in zip(run(ghost, x, upstream), run(bn, x, upstream), strict=True):
        assert_close(got, want)
    assert_close(ghost.running_mean, bn.running_mean)
    assert_close(ghost.running_var, bn.running_var)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_ghost_batchnorm_is_batchnorm_chunk_by_chunk(shape):
    ghost = randomized("ghost_batchnorm", ghost_size=2)
    chunk_refs = [torch_batchnorms(ghost) for _ in range(N // 2)]
    x, upstream = batch(shape), torch.randn(shape, dtype=torch.float64)
    y, grad = run(ghost, x, upstream)
    chunks = [run_members(refs, x[:, k * 2:(k + 1) * 2], upstream[:, k * 2:(k + 1) * 2])
              for k, refs in enumerate(chunk_refs)]
    assert_close(y, torch.cat([c[0] for c in chunks], dim=1))
    assert_close(grad, torch.cat([c[1] for c in chunks], dim=1))
    # Each chunk's reference moved its running stats by its own statistics: average them.
    for buffer in ("running_mean", "running_var"):
        per_chunk = torch.stack([torch.stack([getattr(r, buffer) for r in refs])
                                 for refs in chunk_refs])
        assert_close(getattr(ghost, buffer), per_chunk.mean(0))


def chunkwise_batchnorm(norm, x, group):
    """F.batch_norm on each member's consecutive chunks of `group` samples, without buffers."""
    return torch.stack([
        torch.cat([F.batch_norm(chunk, None, None, norm.weight[m], norm.bias[m], training=True,
                                eps=norm.eps) for chunk in x[m].split(group)])
        for m in range(M)]).detach()


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_train_mode_eval_uses_chunk_stats_and_restores_everything(shape):
    norm = randomized("batchnorm")
    model = nn.Sequential(norm, nn.Identity()).eval()
    before = {k: v.clone() for k, v in norm.state_dict().items()}
    x = batch(shape)
    with train_mode_eval(model, group=4):
        assert model.training and model[1].training
        y = model(x)
    assert_close(y, chunkwise_batchnorm(norm, x, 4))
    for key, value in norm.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert not model.training and not model[1].training
    assert norm.stat_group is None and norm.update_stats


@pytest.mark.parametrize("name", RUNNING_STATS_NORMS)
def test_train_mode_eval_leaves_buffers_alone(name):
    norm = randomized(name)
    before = {k: v.clone() for k, v in norm.state_dict().items()}
    with train_mode_eval(norm, group=4):
        norm(batch((M, N, C, L)))
    for key, value in norm.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert norm.training and norm.stat_group is None and norm.update_stats


def test_stat_group_must_divide_the_batch():
    norm = make_norm("batchnorm", C, M)
    norm.stat_group = 3
    with pytest.raises(ValueError, match="groups of 3"):
        norm(torch.randn(M, N, C))


# --- noisy batch norm ----------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_noisy_batchnorm_without_noise_is_batchnorm(shape):
    bn = randomized("batchnorm")
    noisy = twin("noisy_batchnorm", bn, level=0.0, sample_noise=0.0)
    x, upstream = batch(shape), torch.randn(shape, dtype=torch.float64)
    for got, want in zip(run(noisy, x, upstream), run(bn, x, upstream), strict=True):
        assert_close(got, want)


def test_noisy_batchnorm_is_deterministic_bn_in_eval_mode():
    bn = randomized("batchnorm").eval()
    noisy = twin("noisy_batchnorm", bn).eval()
    x = batch((M, N, C, L))
    assert_close(noisy(x), bn(x))
    assert_close(noisy(x), noisy(x))


def fit_affine(a, b):
    """Per member and channel least squares b = s * a + m over N (and L); returns s, m, residual."""
    dims = stat_dims(a)
    a_c, b_c = a - a.mean(dim=dims, keepdim=True), b - b.mean(dim=dims, keepdim=True)
    s = (a_c * b_c).sum(dim=dims, keepdim=True) / (a_c**2).sum(dim=dims, keepdim=True)
    m = b.mean(dim=dims, keepdim=True) - s * a.mean(dim=dims, keepdim=True)
    return s.flatten(), m.flatten(), b - (s * a + m)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_noisy_batchnorm_scales_and_shifts_each_channel(shape):
    bn = randomized("batchnorm")
    noisy = twin("noisy_batchnorm", bn, level=2.0, sample_noise=0.0)
    x = batch(shape)
    y, y_bn = noisy(x).detach(), bn(x).detach()
    assert_close(noisy.running_mean, bn.running_mean)
    assert_close(noisy.running_var, bn.running_var)
    scale, shift, residual = fit_affine(y_bn, y)
    assert_close(residual, torch.zeros_like(residual), atol=1e-9, rtol=0)
    assert scale.min() >= 1 and scale.max() <= 3
    assert shift.abs().max() <= 2 and shift.min() < 0 < shift.max()
    assert scale.std() > 0.1 and shift.std() > 0.1  # drawn per member and channel
    assert not torch.allclose(y, y_bn)
    assert not torch.allclose(noisy(x), y)  # drawn afresh every forward

    noisy.noise_enabled = False
    assert_close(noisy(x), bn(x))


def test_noisy_batchnorm_sample_noise_has_the_given_spread():
    bn = randomized("batchnorm")
    noisy = twin("noisy_batchnorm", bn, level=0.0, sample_noise=0.1)
    x = batch((M, 64, C, L))
    spread = (noisy(x) - bn(x)).std().item()
    assert 0.09 < spread < 0.11


def test_noisy_none_adds_noise_without_normalizing():
    norm = make_norm("noisy_none", C, M, level=1.0, sample_noise=0.0)
    x = batch((M, N, C, L))
    scale, shift, residual = fit_affine(x, norm(x))
    assert_close(residual, torch.zeros_like(residual), atol=1e-9, rtol=0)
    assert scale.min() >= 1 and scale.max() <= 2 and shift.abs().max() <= 1
    assert scale.std() > 0.05
    assert torch.equal(norm.eval()(x), x)


# --- shared contract -----------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("name", list(NORMS))
def test_capture_stores_input_batch_mean_and_std(name, shape):
    options = {"ghost_size": 4} if name == "ghost_batchnorm" else {}
    norm = randomized(name, **options)
    norm.capture = True
    x = batch(shape)
    norm(x)
    dims = stat_dims(x)
    assert_close(norm.captured_mean, x.mean(dim=dims))
    assert_close(norm.captured_std, x.std(dim=dims, correction=0))
    assert not norm.captured_mean.requires_grad


def test_registry_names_and_parameter_shapes():
    assert norm_names() == ["none", "batchnorm", "batchnorm_detached", "ewa_forward",
                            "batch_renorm", "groupnorm", "layernorm", "ghost_batchnorm",
                            "noisy_batchnorm", "noisy_none"]
    for name in RUNNING_STATS_NORMS:
        norm = make_norm(name, C, M)
        for key in ("weight", "bias", "running_mean", "running_var"):
            assert getattr(norm, key).shape == (M, C), (name, key)
        assert norm.num_batches_tracked.dtype == torch.long
        assert torch.equal(norm.running_var, torch.ones(M, C))
    assert list(make_norm("none", C, M).parameters()) == []


def test_make_norm_rejects_unknown_names_and_options():
    with pytest.raises(ParamError, match="unknown norm 'nope'") as err:
        make_norm("nope", 4)
    assert err.value.field == "norm"
    assert all(name in str(err.value) for name in NORMS)
    with pytest.raises(ParamError, match="r_maxx"):
        make_norm("batch_renorm", 4, r_maxx=2.0)


@pytest.mark.parametrize("shape", [(M, 32, C), (M, 32, C, L)], ids=SHAPE_IDS)
@pytest.mark.parametrize("name", list(NORMS))
def test_every_norm_runs_forward_and_backward_in_both_modes(name, shape):
    norm = make_norm(name, C, M)
    for train in (True, False):
        norm.train(train)
        x = (torch.randn(shape) * 3 + 2).requires_grad_()
        y = norm(x)
        y.square().sum().backward()
        assert y.shape == x.shape
        assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
