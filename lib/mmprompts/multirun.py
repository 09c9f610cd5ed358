"""Many runs, one forward: R runs of one shape trained in lock-step through one batched forward/backward.

Runs that differ only in their seed (same frozen CLIP, dataset, prompt shape, shots and recipe)
share everything but their learned tensors, their few-shot sample and their random streams. On a
CPU a small model is dominated by per-operation overhead and on a GPU one run leaves most of
the device idle, so a group stacks the learned tensors of its R runs (a leading run dimension)
and runs `PromptedCLIP`'s one forward on the R image batches at once: each block of rows reads
its own run's prompts/biases, and the class prompts of every run go through the text tower as
one batch. `torch.func.functional_call` substitutes the stacked tensors for the parameters of
one `PromptedCLIP`, whose forward handles the run dimension itself; `torch.func.vmap` over R
replicas would leave that code untouched, but it has no batching rule for the CPU attention
kernel and falls back to a per-run loop exactly where the time goes.

A run trained in a group is the run `train_run` trains alone:
  * initialisation: each run's model is built by `runs.open_run` (torch.manual_seed(seed) then
    PromptedCLIP), resumed from its own checkpoint when it has one;
  * data: each run iterates its own `train.epoch_batches` (order from its own generator), and
    its augmentations draw from its own copy of the global torch/python/numpy streams, swapped
    in around each of its batches (`_Streams`), so each run sees exactly the draws it sees alone;
  * optimiser: one SGD over the stacked tensors. Momentum and weight decay are elementwise, so
    row r of every buffer evolves as run r's own SGD state; it is saved per run, in the format of
    a one-run optimiser, so alone and grouped checkpoints resume each other;
  * results: each run writes its own cache folder through `runs.OpenRun`, under its unchanged key.
Only float reduction order differs (batched products, the gradient sums over a run's rows), so
grouped and alone agree closely but not bitwise: learned tensors within 3e-6 after one epoch of
the mini recipe (tests/test_multirun.py checks 1e-5); over the 6 epochs of a book run the
difference grows where training is chaotic (up to 1.9e-3 on `aerial`, one test image of 500
flipped; 11 of 12 book runs measured had equal accuracy). A run's result can thus depend, at
that level, on the size of the group it trained in (`group_size` in its metrics).
"""
from __future__ import annotations

import copy
import os
import random
import time
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .data import train_transform
from .data.coop import DatasetSplits
from .models import LoadedCLIP
from .prompted import PromptConfig, PromptedCLIP
from .runs import OpenRun, RunResult, open_run
from .progress import progress_bar
from .train import Recipe, RunDiverged, autocast, epoch_batches, evaluate_models, lr_at_epoch

__all__ = ["train_epochs_together", "train_group"]


def train_group(
    clip: LoadedCLIP,
    data: DatasetSplits,
    method: PromptConfig,
    *,
    seeds: Sequence[int],
    shots: int = 16,
    recipe: Recipe = Recipe(),
    cache: str | os.PathLike | None = None,
    only_cached: bool = False,
    workers: int | None = None,
    progress: bool = True,
    checkpoint_text: bool = False,
) -> list[RunResult | Exception]:
    """`train_run` for every seed, the missing runs trained together; the result or the error per seed, in order.

    Finished runs are loaded from the cache; interrupted ones resume from their checkpoints
    (runs resumed at different epochs advance in separate groups). A run that cannot start (a
    bad seed, or with `only_cached` a run not in the cache) or that diverges (`RunDiverged`) is
    returned as its exception while the others finish.
    """
    outcomes: dict[int, RunResult | Exception] = {}
    to_train: list[OpenRun] = []
    for seed in dict.fromkeys(seeds):
        try:
            run = open_run(clip, data, method, shots=shots, seed=seed, recipe=recipe, cache=cache,
                           only_cached=only_cached, checkpoint_text=checkpoint_text)
        except Exception as err:  # this run only: the others of the group go on
            outcomes[seed] = err
            continue
        if isinstance(run, RunResult):
            outcomes[seed] = run
        else:
            to_train.append(run)
    for start_epoch in sorted({run.start_epoch for run in to_train}):
        group = [run for run in to_train if run.start_epoch == start_epoch]
        outcomes.update(_train_and_finish(group, clip, data, recipe, workers, progress))
    return [outcomes[seed] for seed in seeds]


def _train_and_finish(group: list[OpenRun], clip: LoadedCLIP, data: DatasetSplits, recipe: Recipe,
                      workers: int | None, progress: bool) -> dict[int, RunResult | Exception]:
    started = time.perf_counter()

    def checkpoint(index: int, epoch: int, stats: dict, optimizer_state: dict) -> None:
        group[index].save_checkpoint(epoch, stats, optimizer_state, time.perf_counter() - started)

    diverged = train_epochs_together(
        [run.model for run in group], clip, [run.fewshot for run in group], recipe, [run.seed for run in group],
        start_epoch=group[0].start_epoch, optimizer_states=[run.optimizer_state for run in group],
        on_epoch_end=checkpoint, workers=workers, progress=progress,
    )
    train_time = time.perf_counter() - started
    trained = [run for i, run in enumerate(group) if i not in diverged]
    accuracies = evaluate_models([run.model for run in trained], clip, data, "test", workers=workers,
                                 progress=progress) if trained else []
    for i, err in diverged.items():
        group[i].diverged(err)  # recorded like a run diverged alone: not retrained on the next call
    outcomes: dict[int, RunResult | Exception] = {group[i].seed: err for i, err in diverged.items()}
    for run, accuracy in zip(trained, accuracies):
        outcomes[run.seed] = run.finish(accuracy, train_time, group_size=len(group))
    return outcomes


def train_epochs_together(
    models: Sequence[PromptedCLIP],
    clip: LoadedCLIP,
    datas: Sequence[DatasetSplits],
    recipe: Recipe,
    seeds: Sequence[int],
    *,
    start_epoch: int = 0,
    optimizer_states: Sequence[dict | None] | None = None,
    on_epoch_end: Callable[[int, int, dict, dict], None] | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> dict[int, RunDiverged]:
    """`train.train_epochs` for R runs of one shape in lock-step; returns the runs that diverged by index.

    Run r trains `models[r]` on `datas[r].train` (its few-shot sample) with `seeds[r]`, from
    `optimizer_states[r]` when resuming at `start_epoch`. `on_epoch_end(r, epoch, stats,
    optimizer_state)` is called for every run still training after every epoch, with the run's
    tensors already in `models[r]`. A run whose loss or learned tensors become non-finite leaves
    the group at that step (its error names the epoch, step and lr); the others go on.
    """
    runs = len(models)
    if not runs or not len(datas) == len(seeds) == runs:
        raise ValueError(f"{runs} models, {len(datas)} datasets and {len(seeds)} seeds: give one of each per run")
    first = models[0]
    for model in models[1:]:
        if model.config != first.config or model.clip is not first.clip:
            raise ValueError(f"runs of one group need one frozen CLIP and one prompt config; got {first.config} "
                             f"and {model.config}")
    device = first.logit_scale.device
    names = [name for name, p in first.named_parameters() if p.requires_grad]
    if not names:
        raise ValueError("the model has nothing to learn: use zero-shot evaluation instead")
    stacked = [torch.stack([m.get_parameter(name).detach() for m in models]).requires_grad_() for name in names]
    states = list(optimizer_states) if optimizer_states is not None else [None] * runs
    optimizer = _optimizer(stacked, recipe, states)

    if len({(tuple(d.classnames), d.template, len(d.train)) for d in datas}) != 1:
        raise ValueError("runs of one group need one dataset and shots (the same classes, template and number of "
                         "training items)")
    tokens = first.tokenize(first.prompt_texts(datas[0].classnames, datas[0].template)).to(device)
    static_text = None
    if first.text_is_static:  # nothing learned in the text tower: the classes are encoded once for all runs
        with torch.no_grad(), autocast(device):
            static_text = first.encode_tokens(tokens)
    step_logits = _StepLogits(first)

    augment = train_transform(clip, recipe.min_crop_scale)
    active = list(range(runs))  # indices of the runs still training, in the order of the stacked rows
    diverged: dict[int, RunDiverged] = {}
    for epoch in range(start_epoch, recipe.epochs):
        lr = lr_at_epoch(epoch, recipe)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batches, streams = [], []
        for r in active:
            batches.append(epoch_batches(datas[r], augment, recipe, device, seeds[r], epoch, workers))
            streams.append(_Streams())  # the global streams epoch_batches just seeded, kept for run r alone
        loss_sum, correct, seen = [0.0] * runs, [0] * runs, [0] * runs
        first.train()
        bar = progress_bar(range(len(batches[0])), progress, desc=f"epoch {epoch + 1}/{recipe.epochs} ({len(active)} runs)",
                           leave=False)
        for step in bar:
            images, labels = [], []
            for run_batches, stream in zip(batches, streams):
                with stream:
                    batch = next(run_batches)
                images.append(batch[0])
                labels.append(batch[1])
            images = torch.stack(images).to(device, non_blocking=True)  # [R, B, 3, S, S]
            labels = torch.stack(labels).to(device, non_blocking=True)  # [R, B]
            with autocast(device):
                logits = functional_call(step_logits, {f"model.{n}": t for n, t in zip(names, stacked)},
                                         (images, tokens, static_text))
                losses = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), reduction="none")
                losses = losses.view(labels.shape).mean(dim=1)  # one mean loss per run, as train_epochs has
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()  # runs share no learned tensor: each row gets its own run's gradient
            optimizer.step()

            finite = _finite_runs(losses, stacked)
            hits = (logits.argmax(-1) == labels).sum(dim=1).tolist()
            for i, (r, loss) in enumerate(zip(active, losses.tolist())):
                loss_sum[r] += loss * labels.shape[1]
                correct[r] += hits[i]
                seen[r] += labels.shape[1]
            if not finite.all():
                keep = finite.tolist()
                for i, r in enumerate(active):
                    if not keep[i]:
                        diverged[r] = RunDiverged(
                            f"the run diverged (seed {seeds[r]}): its loss or learned tensors became non-finite at "
                            f"epoch {epoch + 1}, step {step + 1} (lr {lr:g}); lower --lr",
                            epoch=epoch + 1, step=step + 1, lr=lr)
                states = [s for s, k in zip(_split_state(optimizer.state_dict(), len(active)), keep) if k]
                stacked = [tensor.detach()[finite].requires_grad_() for tensor in stacked]
                active = [r for r, k in zip(active, keep) if k]
                batches = [b for b, k in zip(batches, keep) if k]
                streams = [s for s, k in zip(streams, keep) if k]
                if not active:
                    break
                optimizer = _optimizer(stacked, recipe, states)
                for group in optimizer.param_groups:
                    group["lr"] = lr
        if not active:
            break

        first.eval()
        per_run_states = _split_state(optimizer.state_dict(), len(active))
        for i, r in enumerate(active):
            with torch.no_grad():
                for name, tensor in zip(names, stacked):
                    models[r].get_parameter(name).copy_(tensor[i])
            stats = {"epoch": epoch, "lr": lr, "loss": loss_sum[r] / max(seen[r], 1),
                     "train_acc": 100 * correct[r] / max(seen[r], 1)}
            if on_epoch_end is not None:
                on_epoch_end(r, epoch, stats, per_run_states[i])
    for model in models:
        model.eval()
    return diverged


def _finite_runs(losses: torch.Tensor, stacked: list[torch.Tensor]) -> torch.Tensor:
    """Per run: is its loss finite, and is every one of its learned tensors? [R] booleans."""
    finite = losses.detach().isfinite()
    for tensor in stacked:
        finite &= tensor.detach().flatten(1).isfinite().all(dim=1)
    return finite


class _StepLogits(nn.Module):
    """What `functional_call` runs: the logits [R, B, C] of one lock-step, through the one forward of `model`."""

    def __init__(self, model: PromptedCLIP):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, tokens: torch.Tensor, static_text: torch.Tensor | None) -> torch.Tensor:
        runs = images.shape[0]
        image_features = self.model.encode_image(images.flatten(0, 1)).unflatten(0, (runs, -1))
        if static_text is not None:
            return self.model.logits(image_features, static_text)
        return self.model.logits(image_features, self.model.encode_tokens(tokens).unflatten(0, (runs, -1)))


def _optimizer(stacked: list[torch.Tensor], recipe: Recipe, states: Sequence[dict | None]) -> torch.optim.SGD:
    """SGD over the stacked tensors (as `train_epochs` builds it), from the runs' own optimiser states."""
    optimizer = torch.optim.SGD(stacked, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    present = [state is not None for state in states]
    if any(present):
        if not all(present):
            raise ValueError("runs of one group resume together: all or none of them need an optimizer state")
        optimizer.load_state_dict(_stack_states(states))
    return optimizer


def _split_state(state: dict, runs: int) -> list[dict]:
    """A stacked optimiser's state_dict as `runs` one-run state_dicts (what `train_epochs` saves)."""
    return [{
        "state": {index: {key: value[r].clone() if torch.is_tensor(value) else value for key, value in entry.items()}
                  for index, entry in state["state"].items()},
        "param_groups": copy.deepcopy(state["param_groups"]),
    } for r in range(runs)]


def _stack_states(states: Sequence[dict]) -> dict:
    """The inverse of `_split_state`: one-run state_dicts (same epoch, same shapes) as a stacked one."""
    first = states[0]
    return {
        "state": {index: {key: torch.stack([s["state"][index][key] for s in states]) if torch.is_tensor(value)
                          else value for key, value in entry.items()}
                  for index, entry in first["state"].items()},
        "param_groups": copy.deepcopy(first["param_groups"]),
    }


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
