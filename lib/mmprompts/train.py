"""The paper's training recipe (CoOp/Dassl terms), the one training loop, and evaluation.

`train_epochs` trains R >= 1 runs of one prompt shape in lock-step (one run is the case R = 1):
their learned tensors stacked along a leading run dimension, one batched forward/backward of
`PromptedCLIP` per step. On a CPU a small model is dominated by per-operation overhead and on a
GPU one run leaves most of the device idle; a group pays the overhead once for all its runs.
`torch.func.functional_call` substitutes the stacked tensors for the parameters of one
`PromptedCLIP`, whose forward handles the run dimension itself (`torch.func.vmap` over R replicas
would leave that code untouched, but it has no batching rule for the CPU attention kernel and falls
back to a per-run loop exactly where the time goes).

A run trained in a group is the run trained alone, up to float reduction order:
  * data: each run iterates its own `epoch_batches` (order from its own generator), and its
    augmentations draw from its own copy of the global torch/python/numpy streams, swapped in
    around each of its batches (`_Streams`), so each run sees exactly the draws it sees alone;
  * classes: runs may train on different datasets. The text tower reads each run's own class
    prompts; the logits are padded to the largest class count and the padding masked;
  * steps: all runs go through the epochs together (one lr per epoch); a run whose epoch has
    fewer steps (fewer classes) sits out the rest of that epoch's steps;
  * optimiser: SGD on the rows of the stacked tensors (`_StackedSGD`, torch's SGD arithmetic).
    Momentum and weight decay are elementwise, so row r evolves as run r's own SGD state;
  * every epoch reseeds its own random streams from (seed, epoch), so a run resumed after its last
    completed epoch ends exactly where an uninterrupted run ends.
Batched products and gradient sums reduce in another order than a run alone: learned tensors
agree within 1e-5 after an epoch (tests/test_grouped.py); over the epochs of a chaotic run the
difference can grow to a flipped test image, so a run's result depends, at that level, on the
group it trained in (`group_size` in its metrics; `runs.plan_groups` makes the groups).
"""
from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

from .data import ImageDataset, eval_transform, train_transform
from .data.coop import DatasetSplits, Datum
from .data.memory import decoded_images, flip_batch, normalise
from .models import LoadedCLIP
from .progress import progress_bar
from .prompted import PromptedCLIP

__all__ = [
    "Recipe", "RunDiverged", "autocast", "batch_rows", "class_text_features", "correct_per_image", "epoch_batches",
    "eval_batches", "evaluate", "evaluate_models", "lr_at_epoch", "train_epochs",
]


class RunDiverged(RuntimeError):
    """A run whose loss, learned tensors or final test logits became non-finite (the paper's Table 3
    dashes: "prone to failure"). Nothing of such a run is cached as finished; tables show it as "diverged".

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


def batch_rows(data: DatasetSplits, recipe: Recipe) -> int:
    """Images per training batch of a run on `data`: the batch size, or the whole few-shot set when it is
    smaller (Dassl drops the last partial batch only when the set holds at least one full batch)."""
    return min(recipe.batch_size, len(data.train))


def _loader(dataset, batch_size: int, device: torch.device, shuffle: bool, generator: torch.Generator | None = None,
            workers: int | None = None) -> DataLoader:
    if workers is None:
        workers = min(8, torch.get_num_threads()) if device.type == "cuda" else 0
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
        # Dassl drops the last partial batch when the set holds at least one full batch
        drop_last=shuffle and len(dataset) >= batch_size,
        num_workers=workers, pin_memory=device.type == "cuda",
    )


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _Batches:
    """The batches of one epoch: an iterator that knows its length."""

    def __init__(self, loader: DataLoader, fetch: Callable[[tuple], tuple]):
        self._batches, self._length, self._fetch = iter(loader), len(loader), fetch

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> "_Batches":
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._fetch(next(self._batches))


def epoch_batches(items: Sequence[Datum], clip: LoadedCLIP, recipe: Recipe, device: torch.device, seed: int,
                  epoch: int, workers: int | None = None, decoded: torch.Tensor | None = None) -> _Batches:
    """The shuffled, augmented training batches of one epoch, after seeding every global random stream.

    Every epoch's randomness depends on (seed, epoch) only: the loader's own generator orders
    the items, and the global torch/python/numpy streams seeded here draw the augmentations.
    `decoded` (the items as uint8 [N, 3, S, S], see `data.memory`) augments in batches on tensors,
    with the same pixels; only without random crops.
    """
    epoch_seed = seed * 100_003 + epoch
    _seed_everything(epoch_seed)
    generator = torch.Generator().manual_seed(epoch_seed)
    if decoded is None:
        dataset, fetch = ImageDataset(items, train_transform(clip, recipe.min_crop_scale)), lambda batch: batch
    else:
        if recipe.min_crop_scale != 1:
            raise ValueError(f"min_crop_scale={recipe.min_crop_scale}: decoded images are augmented without random "
                             "crops only (min_crop_scale=1)")
        labels = torch.tensor([item.label for item in items])
        dataset, fetch = range(len(items)), lambda index: (flip_batch(decoded[index], clip), labels[index])
    loader = _loader(dataset, recipe.batch_size, device, shuffle=True, generator=generator, workers=workers)
    # An iterator opened and dropped: each one draws a base seed from the loader's generator before
    # the shuffle does. The runs in the cache were trained through `tqdm(loader)`, whose tqdm.auto
    # class opens such an iterator in its constructor before the one it iterates; doing it here
    # keeps their data order whatever tqdm does.
    iter(loader)
    return _Batches(loader, fetch)


def train_epochs(
    models: Sequence[PromptedCLIP],
    clip: LoadedCLIP,
    datas: Sequence[DatasetSplits],
    recipe: Recipe,
    seeds: Sequence[int],
    *,
    start_epoch: int = 0,
    optimizer_states: Sequence[dict | None] | None = None,
    on_step: Callable[[int, dict], None] | None = None,
    on_epoch_end: Callable[[int, int, dict, dict], None] | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> dict[int, RunDiverged]:
    """Train R runs of one prompt shape in lock-step (see the module docstring); returns the runs that diverged, by index.

    Run r trains `models[r]` on `datas[r].train` (its few-shot sample) with `seeds[r]`, from
    `optimizer_states[r]` when resuming at `start_epoch`; every run needs the same number of
    images per batch (`batch_rows`). `on_step(r, record)` gets each run's step record (epoch and
    step, 1-based; loss, lr, norm of its learned tensors after the step); `on_epoch_end(r, epoch,
    stats, optimizer_state)` is called for every run still training after every epoch, with the
    run's tensors already in `models[r]`. A run whose loss or learned tensors become non-finite
    leaves the group at that step (its error names the epoch, step and lr); the others go on.
    """
    runs = len(models)
    if not runs or not len(datas) == len(seeds) == runs:
        raise ValueError(f"{runs} models, {len(datas)} datasets and {len(seeds)} seeds: give one of each per run")
    first = models[0]
    for model in models[1:]:
        if model.config != first.config or model.clip is not first.clip:
            raise ValueError(f"runs of one group need one frozen CLIP and one prompt config; got {first.config} "
                             f"and {model.config}")
    if len({batch_rows(data, recipe) for data in datas}) != 1:
        raise ValueError(f"runs of one group need as many images per batch: {[batch_rows(d, recipe) for d in datas]}")
    device = first.logit_scale.device
    names = [name for name, p in first.named_parameters() if p.requires_grad]
    if not names:
        raise ValueError("the model has nothing to learn: use zero-shot evaluation instead")
    values = [torch.stack([m.get_parameter(name).detach() for m in models]) for name in names]
    optimizer = _StackedSGD(values, recipe, optimizer_states, names)
    texts = _ClassTexts(first, datas, device)
    step_logits = _StepLogits(first)
    decoded = [decoded_images(d.train, clip.image_size) if recipe.min_crop_scale == 1 else None for d in datas]

    alive = list(range(runs))  # the runs still training, in the order of the stacked rows
    diverged: dict[int, RunDiverged] = {}
    for epoch in range(start_epoch, recipe.epochs):
        lr = lr_at_epoch(epoch, recipe)
        started = time.perf_counter()
        batches, streams = {}, {}
        for r in alive:
            batches[r] = epoch_batches(datas[r].train, clip, recipe, device, seeds[r], epoch, workers, decoded[r])
            streams[r] = _Streams()  # the global streams epoch_batches just seeded, kept for run r alone
        loss_sum, correct, seen = [0.0] * runs, [0] * runs, [0] * runs
        first.train()
        bar = progress_bar(range(max(len(b) for b in batches.values())), progress, leave=False,
                           desc=f"epoch {epoch + 1}/{recipe.epochs} ({len(alive)} runs)")
        for step in bar:
            active = [r for r in alive if step < len(batches[r])]
            if not active:
                break
            images, labels = [], []
            for r in active:
                with streams[r]:
                    batch = next(batches[r])
                images.append(batch[0])
                labels.append(batch[1])
            images = torch.stack(images).to(device, non_blocking=True)  # [A, B, 3, S, S]
            labels = torch.stack(labels).to(device, non_blocking=True)  # [A, B]
            rows = None if len(active) == runs else torch.tensor(active, device=device)
            leaves = optimizer.leaves(rows)
            with autocast(device):
                logits = functional_call(step_logits, {f"model.{n}": t for n, t in zip(names, leaves)},
                                         (images, *texts.inputs(active)))
                losses = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), reduction="none")
                losses = losses.view(labels.shape).mean(dim=1)  # one mean loss per run, as a run alone has
            losses.sum().backward()  # runs share no learned tensor: each row gets its own run's gradient
            optimizer.step(rows, leaves, lr)

            updated = [v if rows is None else v[rows] for v in values]
            finite = _finite_runs(losses.detach(), updated).tolist()
            hits = (logits.argmax(-1) == labels).sum(dim=1).tolist()
            step_losses = losses.tolist()
            norms = torch.stack([u.flatten(1).double().pow(2).sum(1) for u in updated]).sum(0).sqrt().tolist() \
                if on_step is not None else None
            for i, r in enumerate(active):
                loss_sum[r] += step_losses[i] * labels.shape[1]
                correct[r] += hits[i]
                seen[r] += labels.shape[1]
                if on_step is not None:
                    on_step(r, {"epoch": epoch + 1, "step": step + 1, "loss": step_losses[i], "lr": lr, "norm": norms[i]})
                if not finite[i]:
                    diverged[r] = RunDiverged(
                        f"the run diverged (seed {seeds[r]}): its loss or learned tensors became non-finite at "
                        f"epoch {epoch + 1}, step {step + 1} (lr {lr:g}); lower --lr",
                        epoch=epoch + 1, step=step + 1, lr=lr)
                    alive.remove(r)
        if not alive:
            break

        first.eval()
        seconds = time.perf_counter() - started
        for r in alive:
            with torch.no_grad():
                for name, value in zip(names, values):
                    models[r].get_parameter(name).copy_(value[r])
            stats = {"epoch": epoch, "lr": lr, "loss": loss_sum[r] / max(seen[r], 1),
                     "train_acc": 100 * correct[r] / max(seen[r], 1), "seconds": seconds, "steps": len(batches[r])}
            if on_epoch_end is not None:
                on_epoch_end(r, epoch, stats, optimizer.state_of(r))
    for model in models:
        model.eval()
    return diverged


def _finite_runs(losses: torch.Tensor, stacked: list[torch.Tensor]) -> torch.Tensor:
    """Per run: is its loss finite, and is every one of its learned tensors? [R] booleans."""
    finite = losses.isfinite()
    for tensor in stacked:
        finite &= tensor.flatten(1).isfinite().all(dim=1)
    return finite


class _ClassTexts:
    """The class prompts of a group's runs as the step reads them: each run its own dataset's classes.

    When nothing learned touches the text tower, the class features are encoded once here."""

    def __init__(self, model: PromptedCLIP, datas: Sequence[DatasetSplits], device: torch.device):
        tokens = [model.tokenize(model.prompt_texts(d.classnames, d.template)).to(device) for d in datas]
        self.counts = [len(t) for t in tokens]
        width = max(self.counts)
        self.valid = torch.arange(width, device=device) < torch.tensor(self.counts, device=device)[:, None]  # [R, C]
        self.tokens, self.static = tokens, None
        if model.text_is_static:
            with torch.no_grad(), autocast(device):
                by_data = {id(d): model.encode_tokens(t) for d, t in zip(datas, tokens)}
                self.static = pad_sequence([by_data[id(d)] for d in datas], batch_first=True)  # [R, C, d]
        self._inputs: dict[tuple[int, ...], tuple] = {}

    def inputs(self, active: list[int]) -> tuple:
        """The step's text arguments for the runs `active`: (tokens, rows per run, static features, class mask)."""
        key = tuple(active)
        if key not in self._inputs:
            counts = [self.counts[r] for r in active]
            width = max(counts)
            mask = None if min(counts) == width else self.valid[list(active), :width]
            if self.static is not None:
                self._inputs[key] = (None, counts, self.static[list(active), :width], mask)
            else:
                self._inputs[key] = (torch.cat([self.tokens[r] for r in active]), counts, None, mask)
        return self._inputs[key]


class _StepLogits(nn.Module):
    """What `functional_call` runs: the logits [R, B, C] of one lock-step, through the one forward of `model`."""

    def __init__(self, model: PromptedCLIP):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, tokens: torch.Tensor | None, counts: list[int],
                static_text: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor:
        runs = images.shape[0]
        image_features = self.model.encode_image(images.flatten(0, 1)).unflatten(0, (runs, -1))
        if static_text is not None:
            text = static_text
        else:
            features = self.model.encode_tokens(tokens, rows_per_run=counts)
            text = pad_sequence(list(features.split(counts)), batch_first=True)  # [R, C, d], padded classes are 0
        logits = self.model.logits(image_features, text)
        return logits if mask is None else logits.masked_fill(~mask[:, None], float("-inf"))


class _StackedSGD:
    """torch.optim.SGD (momentum, weight decay; no dampening, no Nesterov) on the rows of stacked tensors.

    Row r of every tensor and of its momentum buffer is run r's, so a step may update some runs and
    leave the others as they are; the arithmetic is torch's, operation for operation. A run's state
    is saved as the momentum of its rows (`state_of`), which is what resuming it needs."""

    def __init__(self, values: list[torch.Tensor], recipe: Recipe, states: Sequence[dict | None] | None,
                 names: list[str]):
        self.values, self.recipe, self.names = values, recipe, names
        self.momenta: list[torch.Tensor] | None = None
        states = list(states) if states is not None else [None] * len(values[0])
        present = [state is not None and state.get("momentum") is not None for state in states]
        if any(present):
            if not all(present):
                raise ValueError("runs of one group resume together: all or none of them need an optimizer state")
            self.momenta = [torch.stack([state["momentum"][name].to(v.device) for state in states]) for name, v in
                            zip(names, values)]

    def leaves(self, rows: torch.Tensor | None) -> list[torch.Tensor]:
        """The learned tensors of the runs in `rows` (None: all), as leaves to differentiate."""
        return [(v if rows is None else v.index_select(0, rows)).detach().requires_grad_() for v in self.values]

    @torch.no_grad()
    def step(self, rows: torch.Tensor | None, leaves: list[torch.Tensor], lr: float) -> None:
        momentum, weight_decay = self.recipe.momentum, self.recipe.weight_decay
        first_step = momentum != 0 and self.momenta is None
        if first_step:
            if rows is not None:
                raise ValueError("the first step of a group trains every run")
            self.momenta = [torch.zeros_like(v) for v in self.values]
        for k, (value, leaf) in enumerate(zip(self.values, leaves)):
            grad = leaf.grad
            if weight_decay != 0:
                grad = grad.add(leaf, alpha=weight_decay)
            if momentum != 0:
                if first_step:
                    buf = torch.clone(grad).detach()
                else:
                    buf = self.momenta[k] if rows is None else self.momenta[k].index_select(0, rows)
                    buf.mul_(momentum).add_(grad, alpha=1)
                if rows is None:
                    self.momenta[k] = buf
                else:
                    self.momenta[k].index_copy_(0, rows, buf)
                grad = buf
            updated = leaf.detach().add(grad, alpha=-lr)
            if rows is None:
                value.copy_(updated)
            else:
                value.index_copy_(0, rows, updated)

    def state_of(self, run: int) -> dict:
        """Run `run`'s optimiser state: its momentum per learned tensor (None before the first step)."""
        if self.momenta is None:
            return {"momentum": None}
        return {"momentum": {name: m[run].clone() for name, m in zip(self.names, self.momenta)}}


class _Streams:
    """One run's copy of the global random streams (torch CPU, python, numpy) its augmentations draw from.

    Created right after `epoch_batches` seeded them for the run; `with streams:` makes them the
    global streams for one of the run's batches and keeps where they got to."""

    def __init__(self) -> None:
        self._state = (torch.get_rng_state(), random.getstate(), np.random.get_state())

    def __enter__(self) -> None:
        torch.set_rng_state(self._state[0])
        random.setstate(self._state[1])
        np.random.set_state(self._state[2])

    def __exit__(self, *exc) -> None:
        self._state = (torch.get_rng_state(), random.getstate(), np.random.get_state())


def eval_batches(items: Sequence[Datum], clip: LoadedCLIP, batch_size: int = 128, device: torch.device | None = None,
                 workers: int | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The eval-transformed images of `items` in batches, in order, with their labels: the one way evaluation and
    the analyses read images (decoded once per process when they can be, `data.memory`; the same pixels)."""
    device = torch.device("cpu") if device is None else device
    decoded = decoded_images(items, clip.image_size)
    if decoded is None:
        yield from _loader(ImageDataset(items, eval_transform(clip)), batch_size, device, shuffle=False, workers=workers)
        return
    labels = torch.tensor([item.label for item in items])
    for start in range(0, len(items), batch_size):
        yield normalise(decoded[start : start + batch_size], clip), labels[start : start + batch_size]


@torch.no_grad()
def evaluate(model: PromptedCLIP, clip: LoadedCLIP, data: DatasetSplits, split: str = "test",
             batch_size: int = 128, workers: int | None = None, progress: bool = True) -> float:
    """Top-1 accuracy (percent) on a split, with the class texts the model reads."""
    accuracy = evaluate_models([model], clip, data, split, batch_size, workers, progress)[0]
    if accuracy is None:
        raise ValueError(f"{data.name}/{split}: the model's logits are not finite (broken weights or prompts)")
    return accuracy


@torch.no_grad()
def evaluate_models(models: Sequence[PromptedCLIP], clip: LoadedCLIP, data: DatasetSplits, split: str = "test",
                    batch_size: int = 128, workers: int | None = None, progress: bool = True) -> list[float | None]:
    """`evaluate` for several models of one frozen CLIP, reading the split's images once: the top-1 accuracy
    (percent) of each model's `correct_per_image`, None for a model with a non-finite logit."""
    return [None if hits is None else 100.0 * int(hits.sum()) / len(hits)
            for hits in correct_per_image(models, clip, data, split, batch_size, workers, progress)]


@torch.no_grad()
def correct_per_image(models: Sequence[PromptedCLIP], clip: LoadedCLIP, data: DatasetSplits, split: str = "test",
                      batch_size: int = 128, workers: int | None = None,
                      progress: bool = True) -> list[torch.Tensor | None]:
    """Which images of a split each model classifies correctly (top-1), [N] bool in the split's order: the one
    per-image correctness of the library (accuracies, and the paired comparisons over test images).

    A model with a non-finite logit gets None, not hits: its prompts have blown up (finite
    but huge prompts give NaN logits), and the argmax of NaNs is a chance-level number that looks
    like a result."""
    device = models[0].logit_scale.device
    texts = []
    for model in models:
        model.eval()
        with autocast(device):
            texts.append(class_text_features(model, data.classnames, data.template))
    correct: list[list[torch.Tensor]] = [[] for _ in models]
    finite = [True] * len(models)
    items = getattr(data, split)
    if not items:
        raise ValueError(f"{data.name}: the {split} split is empty")
    batches = eval_batches(items, clip, batch_size, device, workers)
    for images, labels in progress_bar(batches, progress, total=math.ceil(len(items) / batch_size),
                                       desc=f"eval {data.name}/{split}", leave=False):
        images = images.to(device, non_blocking=True)
        for i, (model, text) in enumerate(zip(models, texts)):
            with autocast(device):
                logits = model.logits(model.encode_image(images), text)
            finite[i] = finite[i] and bool(logits.isfinite().all())
            correct[i].append(logits.argmax(-1).cpu() == labels)
    return [torch.cat(hits) if ok else None for hits, ok in zip(correct, finite)]
