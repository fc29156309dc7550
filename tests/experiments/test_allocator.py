"""The allocator thresholds keep a batched CPU step from page-faulting its tensors in."""

import resource
import sys

import pytest
import torch

from experiments import allocator, datasets, models
from experiments.trainer import TrainConfig, Trainer

linux_glibc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")


@linux_glibc
def test_thresholds_are_set_once():
    assert allocator.keep_freed_memory() is True
    assert allocator.keep_freed_memory() is True  # a second call is a no-op


@linux_glibc
def test_training_steps_do_not_page_fault():
    data = datasets.load("mnist1d")
    spec = models.ModelSpec(kind="mlp", width=128, depth=2, norm="batchnorm")
    model = models.build(spec, list(range(8)), data.n_features, data.n_classes)
    cfg = TrainConfig(batch_size=128, steps=60, lr=0.02, n_evals=1, threads=1)
    trainer = Trainer(model, data, cfg, list(range(8)), torch.device("cpu"))
    trainer.train_steps(0, 20)  # the heap grows to its working size here
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    trainer.train_steps(20, 60)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 40
    # With glibc's default thresholds each step maps and faults in its activations afresh:
    # about 160 faults per step for these 512 KB tensors.
    assert faults < 30
