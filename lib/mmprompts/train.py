"""The paper's training recipe (CoOp/Dassl terms), evaluation and zero-shot classification.

One epoch is the unit of work and of checkpointing: every epoch reseeds its own random
streams from (seed, epoch), so a run resumed after its last completed epoch ends exactly
where an uninterrupted run ends.
"""
from __future__ import annotations

import contextlib
import math
import random
from dataclasses import asdict, dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from .data import ImageDataset, eval_transform, train_transform
from .data.coop import DatasetSplits, Datum
from .models import LoadedCLIP
from .progress import progress_bar
from .prompted import PromptedCLIP

__all__ = [
    "Recipe", "RunDiverged", "autocast", "class_text_features", "epoch_batches", "evaluate", "evaluate_models",
    "lr_at_epoch", "train_epochs",
]


class RunDiverged(RuntimeError):
    """A run whose loss or learned tensors became non-finite (the paper's Table 3 dashes: "prone to
    failure"). Nothing of such a run is cached as finished; tables show it as "diverged".

    `epoch` and `step` (1-based) and `lr` say where, when the raiser knows; the run cache records them."""

    def __init__(self, message: str, *, epoch: int | None = None, step: int | None = None, lr: float | None = None):
        super().__init__(message)
        self.epoch, self.step, self.lr = epoch, step, lr


@dataclass(frozen=True)
class Recipe:
    """The paper's recipe (Sec. 3.1); every value can be overridden."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 0.0025
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: int | None = None  # None: 1 constant warm-up epoch, or none when training 1 epoch (min(1, epochs - 1))
    warmup_lr: float = 1e-5
    min_crop_scale: float = 0.08  # RandomResizedCrop's smallest area fraction (CoOp's default)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r}: must be a positive integer")
        if self.warmup_epochs is None:
            object.__setattr__(self, "warmup_epochs", min(1, self.epochs - 1))
        if not isinstance(self.warmup_epochs, int) or not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"warmup_epochs={self.warmup_epochs!r}: must be an integer in 0..{self.epochs - 1} with "
                             f"epochs={self.epochs} (the last epoch trains after the warm-up); e.g. --warmup-epochs "
                             f"{min(1, self.epochs - 1)} (warmup_epochs={min(1, self.epochs - 1)})")
        for name in ("lr", "momentum", "weight_decay", "warmup_lr", "min_crop_scale"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"{name}={value!r}: must be a finite number")
            if value < 0:
                raise ValueError(f"{name}={value!r}: must be >= 0")
        if not 0 < self.min_crop_scale <= 1:
            raise ValueError(f"min_crop_scale={self.min_crop_scale!r}: must be in (0, 1]")

    def as_dict(self) -> dict:
        return asdict(self)


def lr_at_epoch(epoch: int, recipe: Recipe) -> float:
    """Dassl's constant warm-up then cosine, stepped per epoch (0-based `epoch`).

    Warm-up epochs use `warmup_lr`; afterwards the cosine successor (T_max = epochs) runs
    from its own step 0: lr * (1 + cos(pi * (epoch - warmup) / epochs)) / 2. It never
    reaches 0 (0.000238729 in the last of 10 epochs at lr 0.0025).
    """
    if epoch < recipe.warmup_epochs:
        return recipe.warmup_lr
    return recipe.lr * (1 + math.cos(math.pi * (epoch - recipe.warmup_epochs) / recipe.epochs)) / 2


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (no loss scaling needed), plain fp32 on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def class_text_features(model: PromptedCLIP, classnames: Sequence[str], template: str) -> torch.Tensor:
    tokens = model.tokenize(model.prompt_texts(classnames, template)).to(model.logit_scale.device)
    return model.encode_tokens(tokens)


def _loader(items: Sequence[Datum], transform: Callable, batch_size: int, device: torch.device,
            shuffle: bool, generator: torch.Generator | None = None, workers: int | None = None) -> DataLoader:
    if workers is None:
        workers = min(8, torch.get_num_threads()) if device.type == "cuda" else 0
    return DataLoader(
        ImageDataset(items, transform), batch_size=batch_size, shuffle=shuffle, generator=generator,
        # Dassl drops the last partial batch when the set holds at least one full batch
        drop_last=shuffle and len(items) >= batch_size,
        num_workers=workers, pin_memory=device.type == "cuda",
    )


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_batches(data: DatasetSplits, augment: Callable, recipe: Recipe, device: torch.device, seed: int,
                  epoch: int, workers: int | None = None) -> Iterator:
    """An iterator over the shuffled training batches of one epoch, after seeding every global random stream.

    Every epoch's randomness depends on (seed, epoch) only: the loader's own generator orders
    the items, and the global torch/python/numpy streams seeded here draw the augmentations.
    """
    epoch_seed = seed * 100_003 + epoch
    _seed_everything(epoch_seed)
    loader = _loader(data.train, augment, recipe.batch_size, device, shuffle=True,
                     generator=torch.Generator().manual_seed(epoch_seed), workers=workers)
    # An iterator opened and dropped: each one draws a base seed from the loader's generator before
    # the shuffle does. The runs in the cache were trained through `tqdm(loader)`, whose tqdm.auto
    # class opens such an iterator in its constructor before the one it iterates; doing it here
    # keeps their data order whatever tqdm does.
    iter(loader)
    return iter(loader)


def train_epochs(
    model: PromptedCLIP,
    clip: LoadedCLIP,
    data: DatasetSplits,
    recipe: Recipe,
    seed: int,
    *,
    start_epoch: int = 0,
    optimizer_state: dict | None = None,
    on_epoch_end: Callable[[int, dict, dict], None] | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> list[dict]:
    """Train the learnable tensors of `model` on `data.train`; returns per-epoch stats.

    `on_epoch_end(epoch, stats, optimizer_state)` is called after every epoch (the run cache
    checkpoints there). To resume, pass the next `start_epoch` and the saved optimizer state
    after loading the learned tensors into `model`.
    """
    device = model.logit_scale.device
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has nothing to learn: use zero-shot evaluation instead")
    optimizer = torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    tokens = model.tokenize(model.prompt_texts(data.classnames, data.template)).to(device)
    static_text = None
    if model.text_is_static:  # nothing learned in the text tower: encode the classes once
        with torch.no_grad(), autocast(device):
            static_text = model.encode_tokens(tokens)

    augment = train_transform(clip, recipe.min_crop_scale)
    history = []
    for epoch in range(start_epoch, recipe.epochs):
        lr = lr_at_epoch(epoch, recipe)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batches = epoch_batches(data, augment, recipe, device, seed, epoch, workers)
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        bar = progress_bar(batches, progress, total=len(batches), desc=f"epoch {epoch + 1}/{recipe.epochs}", leave=False)
        for step, (images, labels) in enumerate(bar, start=1):
            images = images.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            with autocast(device):
                text = static_text if static_text is not None else model.encode_tokens(tokens)
                logits = model.logits(model.encode_image(images), text)
                loss = F.cross_entropy(logits.float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            _check_finite(loss, params, epoch, step, lr)
            loss_sum += loss.item() * len(labels)
            correct += int((logits.argmax(-1) == labels).sum())
            seen += len(labels)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{100 * correct / seen:.1f}")
        stats = {"epoch": epoch, "lr": lr, "loss": loss_sum / max(seen, 1), "train_acc": 100 * correct / max(seen, 1)}
        history.append(stats)
        if on_epoch_end is not None:
            on_epoch_end(epoch, stats, optimizer.state_dict())
    model.eval()
    return history


def _check_finite(loss: torch.Tensor, params: list[torch.Tensor], epoch: int, step: int, lr: float) -> None:
    """Stop at the first step whose loss or updated tensors are not finite: once a prompt is NaN every
    later logit is, and the run would end with a chance-level accuracy that looks like a result."""
    if not bool(torch.isfinite(loss)):
        bad = "loss"
    elif not bool(torch.stack([torch.isfinite(p).all() for p in params]).all()):  # one device sync
        bad = "learned tensors"
    else:
        return
    raise RunDiverged(f"the run diverged: its {bad} became non-finite at epoch {epoch + 1}, step {step} "
                      f"(lr {lr:g}); lower --lr", epoch=epoch + 1, step=step, lr=lr)


@torch.no_grad()
def evaluate(model: PromptedCLIP, clip: LoadedCLIP, data: DatasetSplits, split: str = "test",
             batch_size: int = 128, workers: int | None = None, progress: bool = True) -> float:
    """Top-1 accuracy (percent) on a split, with the class texts the model reads."""
    return evaluate_models([model], clip, data, split, batch_size, workers, progress)[0]


@torch.no_grad()
def evaluate_models(models: Sequence[PromptedCLIP], clip: LoadedCLIP, data: DatasetSplits, split: str = "test",
                    batch_size: int = 128, workers: int | None = None, progress: bool = True) -> list[float]:
    """`evaluate` for several models of one frozen CLIP, reading the split's images once."""
    device = models[0].logit_scale.device
    texts = []
    for model in models:
        model.eval()
        with autocast(device):
            texts.append(class_text_features(model, data.classnames, data.template))
    correct, seen = [0] * len(models), 0
    loader = _loader(getattr(data, split), eval_transform(clip), batch_size, device, shuffle=False, workers=workers)
    for images, labels in progress_bar(loader, progress, desc=f"eval {data.name}/{split}", leave=False):
        images = images.to(device, non_blocking=True)
        for i, (model, text) in enumerate(zip(models, texts)):
            with autocast(device):
                logits = model.logits(model.encode_image(images), text)
            correct[i] += int((logits.argmax(-1).cpu() == labels).sum())
        seen += len(labels)
    if seen == 0:
        raise ValueError(f"{data.name}: the {split} split is empty")
    return [100.0 * c / seen for c in correct]
