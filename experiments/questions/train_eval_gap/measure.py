"""train_eval_gap: train each condition, then measure eval mode against train mode.

One batched model at the training batch size holds the shuffled-batch baseline, its twin (the
starting point of the frozen fine-tune), the class-sorted condition (same seeds, each batch
drawn from one or two classes) and the momentum sweep; the small-batch condition is its own
model. After training every member is measured the same way on the test set: eval mode
(running averages), train mode on shuffled test batches of `test_batch` (their own
statistics), and eval mode after PreciseBN (running averages recomputed on the training set,
weights frozen; Wu & Johnson 2021). The fine-tune starts from the baseline's trained weights
on a shifted MNIST-1D, once with batch norm training as usual and once frozen: the running
averages kept from pre-training normalize the forward pass and are not updated.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from ... import datasets, models, norms, probes
from ...result import RunContext
from ...runner import Cells, split_cells
from ...trainer import DATA_ORDER_OFFSET, TrainConfig, Trainer, member_accuracy
from .spec import BASE_MOMENTUM, momentums, small_lr

TEST_ORDER_SEED = 7  # fixes which test examples share a train-mode test batch


def main_groups(p: dict) -> list[dict]:
    """Labels of the groups of the main batched model, in member order."""
    groups = [{"condition": "iid", "momentum": BASE_MOMENTUM}]
    if "finetune" in p["conditions"]:
        groups.append({"condition": "finetune_twin", "momentum": BASE_MOMENTUM})
    if "class_sorted" in p["conditions"]:
        groups.append({"condition": "class_sorted", "momentum": BASE_MOMENTUM})
    if "momentum" in p["conditions"]:
        groups += [{"condition": "momentum", "momentum": m} for m in momentums(p)]
    return groups


def measure(ctx: RunContext, data: datasets.Dataset) -> Cells:
    p = ctx.params
    n, chance = p["seeds"], 1 / data.n_classes
    groups = main_groups(p)
    small = "small_batch" in p["conditions"]
    tune = "finetune" in p["conditions"]
    shares = np.array([1.0, 0.5 if small else 0.0, 0.3 if tune else 0.0])
    shares /= shares.sum()
    trainer = train_main(ctx, data, groups, shares[0])
    cells = Cells(split_cells(groups, evaluate(trainer, p), trainer_dead(trainer), n, chance))
    if small:
        t = train(ctx, data, [{"momentum": BASE_MOMENTUM}], p["small_batch_size"],
                  p["small_batch_epochs"], small_lr(p), shares[0], shares[1], "small batches")
        cells.add(split_cells([{"condition": "small_batch", "momentum": BASE_MOMENTUM}],
                              evaluate(t, p), trainer_dead(t), n, chance))
    if tune:
        cells.add(finetune(ctx, trainer, groups, shares[0] + shares[1], shares[2]))
    return cells


def trainer_dead(trainer: Trainer) -> np.ndarray:
    return ~trainer.active.cpu().numpy()


def train(ctx: RunContext, data: datasets.Dataset, groups: list[dict], batch: int,
          epochs: int, lr: float, done: float, share: float, what: str) -> Trainer:
    p = ctx.params
    seeds = ctx.seeds()
    spec = models.ModelSpec(kind="mlp", width=p["width"], depth=p["depth"])
    arms = [models.Arm("batchnorm", len(seeds), {"momentum": g["momentum"]}) for g in groups]
    model = models.build(spec, seeds * len(groups), data.n_features, data.n_classes, arms=arms)
    cfg = TrainConfig(batch_size=batch, epochs=epochs, optimizer="sgd", lr=lr,
                      momentum=p["momentum"], n_evals=2)
    trainer = Trainer(model, data, cfg, seeds * len(groups), ctx.device,
                      on_progress=lambda f, msg: ctx.progress(done + share * f,
                                                              f"{what}: {msg}"))
    for i, g in enumerate(groups):
        if g.get("condition") == "class_sorted":
            sl = slice(i * len(seeds), (i + 1) * len(seeds))
            trainer.order[:, sl] = torch.stack(
                [class_sorted_order(data.y_train, s, batch, trainer.total) for s in seeds],
                dim=1).to(trainer.order.device)
    trainer.run()
    return trainer


def train_main(ctx: RunContext, data: datasets.Dataset, groups: list[dict],
               share: float) -> Trainer:
    p = ctx.params
    return train(ctx, data, groups, p["batch_size"], p["epochs"], p["lr"], 0.0, share,
                 "training")


def class_sorted_order(y: torch.Tensor, seed: int, batch: int, steps: int) -> torch.Tensor:
    """(steps, batch) indices where each batch holds one or two classes: every epoch, the
    examples are shuffled within their class and laid out class after class, cut into
    half-batches (almost all of one class), and random pairs of half-batches make a batch."""
    g = torch.Generator().manual_seed(DATA_ORDER_OFFSET + 31 * int(seed) + 1)
    y = y.cpu()
    half = batch // 2
    per_epoch = len(y) // batch
    epochs = []
    while len(epochs) * per_epoch < steps:
        parts = [idx[torch.randperm(len(idx), generator=g)]
                 for idx in (torch.nonzero(y == c).flatten() for c in torch.unique(y))]
        halves = torch.cat(parts)[: per_epoch * 2 * half].view(per_epoch * 2, half)
        paired = halves[torch.randperm(len(halves), generator=g)].view(per_epoch, 2 * half)
        if 2 * half < batch:  # odd batch: one more example from the first half's class
            paired = torch.cat([paired, paired[:, :1]], dim=1)
        epochs.append(paired)
    return torch.cat(epochs)[:steps]


@torch.no_grad()
def evaluate(trainer: Trainer, p: dict, data: datasets.Dataset | None = None
             ) -> dict[str, np.ndarray]:
    """(M,) eval-mode, train-mode and PreciseBN test accuracy, and the running / recomputed
    variance ratio, on `data` (default: the trainer's)."""
    data = data or trainer.data
    model, m = trainer.model, trainer.members
    out = {"eval_acc": trainer.evaluate_model(model)["test_acc"].cpu().numpy()}
    out["train_mode_acc"] = train_mode_accuracy(model, data, p["test_batch"], m)
    if data is trainer.data:
        out["as_trained_acc"] = as_trained_accuracy(trainer)
    out["stat_ratio"] = stat_ratio(model, data.x_train)
    precise = copy.deepcopy(model)
    probes.recalibrate(precise, data.x_train, ("batchnorm", "ewa_forward"))
    out["precise_acc"] = trainer.evaluate_model(precise)["test_acc"].cpu().numpy()
    return out


def train_mode_accuracy(model: models.Network, data: datasets.Dataset, batch: int,
                        members: int) -> np.ndarray:
    g = torch.Generator().manual_seed(TEST_ORDER_SEED)
    order = torch.randperm(len(data.y_test), generator=g).to(data.y_test.device)
    n = (len(order) // batch) * batch
    if n == 0:
        return np.full(members, np.nan)
    x = data.x_test[order[:n]].expand(members, -1, -1)
    y = data.y_test[order[:n]].expand(members, -1)
    with norms.train_mode_eval(model, batch):
        return member_accuracy(model(x), y).cpu().numpy()


def as_trained_accuracy(trainer: Trainer, batches: int = 10) -> np.ndarray:
    """(M,) train-mode accuracy on each member's last training batches, drawn as in training
    (class-sorted members see class-sorted batches): what a training log reports."""
    idx = trainer.order[-batches:]  # (k, M, B)
    k, m, b = idx.shape
    x = trainer.data.x_train[idx].transpose(0, 1).reshape(m, k * b, -1)  # (M, k*B, F)
    y = trainer.data.y_train[idx].transpose(0, 1).reshape(m, k * b)
    with norms.train_mode_eval(trainer.model, b):
        return member_accuracy(trainer.model(x), y).cpu().numpy()


def stat_ratio(model: models.Network, x: torch.Tensor) -> np.ndarray:
    """(M,) running variance over the variance recomputed on x, median over units and
    layers (1 = the running averages describe the data)."""
    _, variances, counts = probes.population_stats(model, x)
    m = model.members
    ratios = np.full((m, len(variances)), np.nan)
    for i, block in enumerate(model.blocks):
        true = variances[i] * counts[i] / max(counts[i] - 1, 1)
        for sl, norm in probes.norm_slices(block.norm, m):
            if hasattr(norm, "running_var"):
                r = norm.running_var / true[sl].clamp_min(1e-12)
                ratios[sl, i] = r.median(dim=1).values.cpu().numpy()
    return np.nanmedian(ratios, axis=1)


def finetune(ctx: RunContext, trained: Trainer, groups: list[dict], done: float,
             share: float) -> list:
    """Fine-tune the baseline (trainable norm) and its twin (frozen norm) on shifted data."""
    p = ctx.params
    n = p["seeds"]
    shifted = datasets.load("mnist1d", num_samples=p["finetune_samples"], seed=4242,
                            shear_scale=p["shift_shear"], corr_noise_scale=p["shift_noise"])
    twin = [g["condition"] for g in groups].index("finetune_twin")
    spec = models.ModelSpec(kind="mlp", width=p["width"], depth=p["depth"])
    arms = [models.Arm("batchnorm", n, {"momentum": BASE_MOMENTUM}) for _ in range(2)]
    model = models.build(spec, ctx.seeds() * 2, shifted.n_features, shifted.n_classes, arms)
    copy_members(trained.model, model, [slice(0, n), slice(twin * n, (twin + 1) * n)])
    freeze_second_arm(model, n)
    cfg = TrainConfig(batch_size=p["finetune_batch"], steps=p["finetune_steps"],
                      optimizer="sgd", lr=p["finetune_lr"], momentum=p["momentum"], n_evals=2)
    trainer = Trainer(model, shifted, cfg, ctx.seeds() * 2, ctx.device,
                      on_progress=lambda f, msg: ctx.progress(done + share * f,
                                                              f"fine-tuning: {msg}"))
    trainer.run()
    labels = [{"condition": "finetune_trainable", "momentum": BASE_MOMENTUM},
              {"condition": "finetune_frozen", "momentum": 0.0}]
    return split_cells(labels, evaluate(trainer, p, shifted), trainer_dead(trainer), n,
                       1 / shifted.n_classes)


def copy_members(src: models.Network, dst: models.Network, parts: list[slice]) -> None:
    """Copy trained members into a fresh model whose norm arms are `parts` of src, in order
    (layers and head hold all members along the first axis; each norm arm holds its own)."""
    for sb, db in zip(src.blocks, dst.blocks, strict=True):
        for name, t in db.layer.state_dict().items():
            s = sb.layer.state_dict()[name]
            t.copy_(torch.cat([s[sl] for sl in parts]))
        starts = np.cumsum([0, *sb.norm.sizes])
        for k, sl in enumerate(parts):
            arm = int(np.searchsorted(starts, sl.start))
            db.norm.arms[k].load_state_dict(sb.norm.arms[arm].state_dict())
    for name, t in dst.head.state_dict().items():
        s = src.head.state_dict()[name]
        t.copy_(torch.cat([s[sl] for sl in parts]))


def freeze_second_arm(model: models.Network, members: int) -> None:
    """Frozen batch norm: the running averages normalize the forward pass (as in eval mode)
    and stay as they are (momentum 0); gamma and beta still train."""
    for block in model.blocks:
        bn = block.norm.arms[1]
        frozen = norms.make_norm("ewa_forward", bn.weight.shape[-1], members, momentum=0.0)
        frozen.load_state_dict(bn.state_dict())
        block.norm.arms[1] = frozen.to(bn.weight.device)
