"""He initialisation and parameter copying between twin models (experiments.models)."""

from __future__ import annotations

import torch

from experiments import models


def test_he_init_gives_variance_two_over_fan_in_and_zero_biases():
    net = models.build(models.ModelSpec(width=512, depth=3), [0, 1], 40, 10)
    head = net.head.weight.clone()
    models.he_init(net)
    for block, fan_in in zip(net.blocks, (40, 512, 512), strict=True):
        var = block.layer.weight.var().item()
        assert abs(var * fan_in / 2 - 1) < 0.05
        assert torch.count_nonzero(block.layer.bias) == 0
    assert torch.equal(net.head.weight, head)  # the classifier keeps its default init


def test_copy_shared_parameters_matches_every_shared_tensor():
    spec = dict(width=16, depth=2, norm="batchnorm")
    src = models.build(models.ModelSpec(**spec, bias=True), [3], 40, 10)
    dst = models.build(models.ModelSpec(**spec, bias=False), [3], 40, 10)
    assert not torch.equal(src.blocks[1].layer.weight, dst.blocks[1].layer.weight)
    models.copy_shared_parameters(src, dst)
    shared = dict(src.named_parameters())
    for name, p in dst.named_parameters():
        assert torch.equal(p, shared[name])
