"""Probes against direct computations on plain tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from experiments import datasets, models, probes
from experiments.trainer import ProbeState, TrainConfig

SEEDS = [0, 1]


@pytest.fixture(scope="module")
def data():
    return datasets.load("mnist1d", num_samples=800)


def state_for(model, data, batch_size=16):
    return ProbeState(model, 0, data, TrainConfig(batch_size=batch_size), (None, None),
                      torch.ones(model.members), torch.ones(model.members, dtype=torch.bool))


def first_layer_preactivation(model, x):
    layer = model.blocks[0].layer
    return torch.baddbmm(layer.bias.unsqueeze(1), x.expand(model.members, -1, -1),
                         layer.weight).detach()  # (M, N, C)


def test_activation_stats_in_eval_mode_match_numpy(data):
    spec = models.ModelSpec(width=8, depth=2, norm="none")
    model = models.build(spec, SEEDS, data.n_features, data.n_classes)
    out = probes.ActivationStats(n=64, train_mode=False)(state_for(model, data))
    stats = out["activation_stats"]  # (M, layers, 5)
    assert stats.shape == (2, 2, 5)
    z = first_layer_preactivation(model, data.x_train[:64]).numpy()
    for m in range(2):
        v = z[m].ravel()
        np.testing.assert_allclose(stats[m, 0], [v.mean(), v.std(ddof=1),
                                                 *np.percentile(v, probes.PERCENTILES)],
                                   rtol=1e-4, atol=1e-5)


def test_norm_stats_report_the_batch_moments_the_norm_sees(data):
    spec = models.ModelSpec(width=8, depth=1, norm="batchnorm")
    model = models.build(spec, SEEDS, data.n_features, data.n_classes)
    with torch.no_grad():
        model.blocks[0].norm.weight.mul_(2.0)
    out = probes.NormStats(n=64)(state_for(model, data, batch_size=64))
    z = first_layer_preactivation(model, data.x_train[:64])
    torch.testing.assert_close(torch.tensor(out["layer0.mu_B"]), z.mean(1))
    torch.testing.assert_close(torch.tensor(out["layer0.sigma_B"]), z.std(1, unbiased=False))
    assert np.all(out["layer0.gamma"] == 2.0) and np.all(out["layer0.beta"] == 0.0)


def test_weight_norms(data):
    spec = models.ModelSpec(width=8, depth=2, norm="batchnorm")
    model = models.build(spec, SEEDS, data.n_features, data.n_classes)
    out = probes.WeightNorms()(state_for(model, data))
    w = model.blocks[1].layer.weight.detach()
    np.testing.assert_allclose(out["weight_norm"][:, 1], w.flatten(1).norm(dim=1).numpy(),
                               rtol=1e-6)


def test_recalibration_makes_running_statistics_exact(data):
    spec = models.ModelSpec(width=8, depth=2, norm="batchnorm")
    arms = [models.Arm("batchnorm", 1), models.Arm("ewa_forward", 1)]
    model = models.build(spec, SEEDS, data.n_features, data.n_classes, arms=arms)
    x = data.x_train[:200]
    before = probes.running_stat_error(model, x)
    assert (before["running_std_err"] > 0.05).all()  # fresh buffers: mean 0, var 1
    probes.recalibrate(model, x, ("batchnorm",))
    after = probes.running_stat_error(model, x)
    assert after["running_mean_err"][0] < 1e-4 and after["running_std_err"][0] < 1e-2
    # Only the batch-norm arm was recalibrated.
    assert after["running_std_err"][1] == pytest.approx(before["running_std_err"][1])


def test_running_stat_error_is_nan_without_running_statistics(data):
    spec = models.ModelSpec(width=8, depth=1, norm="groupnorm", norm_options={"num_groups": 2})
    model = models.build(spec, SEEDS, data.n_features, data.n_classes)
    err = probes.running_stat_error(model, data.x_train[:50])
    assert np.isnan(err["running_mean_err"]).all()


def test_a_probe_uses_whole_batches_and_at_least_one():
    from experiments.probes import probe_size

    assert probe_size(512, 400, 64) == 384  # whole batches within the training set
    assert probe_size(512, 4096, 1024) == 1024  # a batch larger than asked: still one batch
    with pytest.raises(ValueError):
        probe_size(512, 800, 1024)
