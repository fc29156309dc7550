"""The hand-fused batch norm and cross-entropy against torch's own ops, in float64."""

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from experiments import fused

M, N, C, L = 3, 8, 4, 5


def leaf(t):
    return t.detach().clone().requires_grad_()


def per_member_torch_bn(x, weight, bias, eps):
    """nn.functional.batch_norm on each member separately: (M, N, C[, L])."""
    return torch.stack([F.batch_norm(x[m], None, None, weight[m], bias[m], training=True,
                                     eps=eps) for m in range(x.shape[0])])


@pytest.mark.parametrize("shape", [(M, N, C, 1), (M, N, C, L)], ids=["features", "signal"])
def test_batch_norm_train_matches_torch_values_and_all_gradients(shape):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g, dtype=torch.float64) * 3 + 2
    w = torch.rand(M, C, generator=g, dtype=torch.float64) + 0.5
    b = torch.randn(M, C, generator=g, dtype=torch.float64)
    upstream = torch.randn(shape, generator=g, dtype=torch.float64)
    ours = [leaf(t) for t in (x, w, b)]
    ref = [leaf(t) for t in (x, w, b)]
    y, mean, var = fused.batch_norm_train(*ours, 1e-5)
    (y * upstream).sum().backward()
    y_ref = per_member_torch_bn(ref[0], ref[1], ref[2], 1e-5)
    (y_ref * upstream).sum().backward()
    assert_close(y, y_ref)
    for a, r in zip(ours, ref, strict=True):
        assert_close(a.grad, r.grad)
    assert_close(mean.flatten(1), x.mean((1, 3)))
    assert_close(var.flatten(1), x.var((1, 3), correction=0))
    assert not mean.requires_grad and not var.requires_grad


def test_detached_statistics_leave_only_the_affine_path_in_the_gradient():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(M, N, C, 1, generator=g, dtype=torch.float64) * 2 - 1
    w = torch.rand(M, C, generator=g, dtype=torch.float64) + 0.5
    xs = leaf(x)
    y, mean, var = fused.batch_norm_train(xs, w, None, 1e-5, stats_in_gradient=False)
    y.sum().backward()
    expected = (w[:, None, :, None] / torch.sqrt(var + 1e-5)).expand_as(x)
    assert_close(xs.grad, expected)


@pytest.mark.parametrize("stats_in_gradient", [True, False])
def test_batch_norm_traced_by_torch_compile_is_the_eager_one(stats_in_gradient):
    """The trainer's compiled step traces the hand-written backward; values and all three
    gradients must come out as eager ones, with the statistics in the gradient or not."""
    from experiments.compile_policy import compiler_available

    if not compiler_available():
        pytest.skip("no C++ compiler for torch.compile")
    g = torch.Generator().manual_seed(2)
    x = torch.randn(M, N, C, L, generator=g)
    w = torch.rand(M, C, generator=g) + 0.5
    b = torch.randn(M, C, generator=g)
    probe = torch.randn(M, N, C, L, generator=g)  # a loss whose gradient is not uniform

    def loss_and_grads(x, w, b):
        y = fused.batch_norm_train(x, w, b, 1e-5, stats_in_gradient)[0]
        loss = (y * probe).sum()
        return (loss.detach(), *torch.autograd.grad(loss, (x, w, b)))

    with torch._dynamo.config.patch(trace_autograd_ops=True):
        traced = torch.compile(loss_and_grads, dynamic=False, fullgraph=True)(
            *[leaf(t) for t in (x, w, b)])
    for got, want in zip(traced, loss_and_grads(*[leaf(t) for t in (x, w, b)]), strict=True):
        assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_member_cross_entropy_matches_torch_and_its_gradient():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(M, N, 10, generator=g, dtype=torch.float64) * 4
    targets = torch.randint(0, 10, (M, N), generator=g)
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    a, r = leaf(logits), leaf(logits)
    loss = fused.member_cross_entropy(a, targets)
    ref = torch.stack([F.cross_entropy(r[m], targets[m]) for m in range(M)])
    assert_close(loss, ref)
    (loss * weights).sum().backward()
    (ref * weights).sum().backward()
    assert_close(a.grad, r.grad)


def test_member_cross_entropy_of_non_finite_logits_is_not_finite():
    logits = torch.zeros(2, 4, 10)
    logits[1, 0, 3] = float("inf")
    loss = fused.member_cross_entropy(logits, torch.zeros(2, 4, dtype=torch.long))
    assert torch.isfinite(loss[0]) and not torch.isfinite(loss[1])


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_narrow_linear_matches_the_plain_batched_product(bias):
    """A classifier head (10 outputs) takes the transposed products on the CPU; values and
    every gradient equal the plain batched product's."""
    from experiments import layers

    gens = layers.member_generators(range(M))
    head = layers.Linear(16, 10, gens, bias=bias).double()
    assert head.weight.shape[-1] < layers.NARROW  # the narrow path is the one under test
    g = torch.Generator().manual_seed(1)
    x = torch.randn(M, N, 16, generator=g, dtype=torch.float64)
    upstream = torch.randn(M, N, 10, generator=g, dtype=torch.float64)

    ours_x = leaf(x)
    y = head(ours_x)
    assert y.is_contiguous()
    y.backward(upstream)
    params = [head.weight] + ([head.bias] if bias else [])
    ours = [ours_x.grad, *(p.grad for p in params)]

    ref_x, ref_params = leaf(x), [leaf(p) for p in params]
    ref_y = (torch.baddbmm(ref_params[1].unsqueeze(1), ref_x, ref_params[0]) if bias
             else torch.bmm(ref_x, ref_params[0]))
    ref_y.backward(upstream)
    assert_close(y, ref_y)
    for a, b in zip(ours, [ref_x.grad, *(p.grad for p in ref_params)], strict=True):
        assert_close(a, b)
