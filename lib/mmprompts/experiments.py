"""The paper's experiments as lists of runs, each trained once and then found in the run cache.

A run is a `RunSpec` (dataset, method, prompt shape, seed). The presets list the runs of
Tables 1-3; `execute` trains or loads one run, `execute_group` the seeds of one configuration
together (`multirun.py`). Notebooks, the CLI and the Ray sweep all go through these functions,
so a run trained for one table is reused by every other table that needs it (`tables.py`
aggregates them).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterable, Sequence

import torch

from .data import load_dataset
from .data.coop import DatasetSplits
from .models import LoadedCLIP
from .prompted import PromptConfig
from .multirun import train_group
from .runs import RunResult, train_run, zero_shot_run

__all__ = [
    "RunSpec", "analysis_run", "execute", "execute_group", "group_specs", "in_batches", "run_all", "table1_specs",
    "table2_specs", "table3_specs", "test_images",
]


@dataclass(frozen=True, order=True)
class RunSpec:
    dataset: str
    method: str  # "zeroshot" | "prompts" | "bias"
    n_ctx: int = 0
    depth: int = 0  # prompts: blocks with prompts; bias: blocks with a bias (all, counted from the input)
    seed: int = 0

    def config(self) -> PromptConfig | None:
        if self.method == "zeroshot":
            return None
        if self.method == "bias":
            return PromptConfig.bias(range(self.depth))
        if self.method == "prompts":
            return PromptConfig.prompts(self.n_ctx, self.depth)
        raise ValueError(f"unknown method {self.method!r}; use 'zeroshot', 'prompts' or 'bias'")


def execute(spec: RunSpec, clip: LoadedCLIP, data: DatasetSplits, settings, progress: bool = True,
            only_cached: bool = False) -> RunResult:
    """Train (or load from the cache) one run with the settings' shots, recipe and cache."""
    if spec.method == "zeroshot":
        return zero_shot_run(clip, data, cache=settings.cache, only_cached=only_cached, progress=progress)
    return train_run(clip, data, spec.config(), shots=settings.shots, seed=spec.seed, recipe=settings.recipe,
                     cache=settings.cache, only_cached=only_cached, progress=progress)


def group_specs(specs: Iterable[RunSpec]) -> list[list[RunSpec]]:
    """The distinct specs in groups that train together: runs that differ only in their seed.

    Such runs share the model, dataset, prompt shape, shots and recipe (the settings'), which is
    what `multirun.train_group` needs; a zero-shot run is a group of its own."""
    groups: dict[RunSpec, list[RunSpec]] = {}
    for spec in dict.fromkeys(specs):
        groups.setdefault(spec if spec.method == "zeroshot" else replace(spec, seed=0), []).append(spec)
    return list(groups.values())


def execute_group(specs: Sequence[RunSpec], clip: LoadedCLIP, data: DatasetSplits, settings, progress: bool = True,
                  only_cached: bool = False) -> list[RunResult | Exception]:
    """`execute` for one group of `group_specs`, trained together: the result or the error per spec."""
    if specs[0].method == "zeroshot":
        return [execute(spec, clip, data, settings, progress, only_cached) for spec in specs]
    try:
        method = specs[0].config()
    except ValueError as err:
        return [err] * len(specs)
    return train_group(clip, data, method, seeds=[spec.seed for spec in specs], shots=settings.shots,
                       recipe=settings.recipe, cache=settings.cache, only_cached=only_cached, progress=progress)


def run_all(specs: Sequence[RunSpec], clip: LoadedCLIP, settings, progress: bool = True,
            on_result: Callable[[RunSpec, RunResult], None] | None = None, only_cached: bool = False) -> dict[RunSpec, float]:
    """Execute runs in this process, the seeds of a configuration together; returns accuracy per spec.

    A failing run stops the call with its error once the other runs of its group are done.
    `only_cached=True` never trains: a run missing from the cache raises LookupError."""
    from tqdm.auto import tqdm

    datasets = {name: load_dataset(name, settings.data_root) for name in sorted({s.dataset for s in specs})}
    accuracies = {}
    bar = tqdm(total=len(set(specs)), desc="runs", disable=not progress)
    for group in group_specs(specs):
        outcomes = execute_group(group, clip, datasets[group[0].dataset], settings, progress=False,
                                 only_cached=only_cached)
        for spec, outcome in zip(group, outcomes):
            if not isinstance(outcome, Exception):
                accuracies[spec] = outcome.accuracy
                if on_result is not None:
                    on_result(spec, outcome)
        bar.update(len(group))
        errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
        if errors:
            raise errors[0]
    bar.close()
    return {spec: accuracies[spec] for spec in dict.fromkeys(specs)}


# ----------------------------------------------------------------------------- presets
def _zero_shot(datasets: Iterable[str]) -> list[RunSpec]:
    return [RunSpec(d, "zeroshot") for d in datasets]


def table1_specs(datasets: Sequence[str], seeds: Sequence[int], layers: int,
                 depths: Sequence[int] = (), prompt_counts: Sequence[int] = ()) -> list[RunSpec]:
    """Zero-shot, 1+1 prompts in every block, bias after every block, and the runs 'optimal' picks from."""
    specs = _zero_shot(datasets) + [
        RunSpec(d, method, 1 if method == "prompts" else 0, layers, s)
        for d in datasets for method in ("prompts", "bias") for s in seeds
    ]
    return list(dict.fromkeys(specs + table2_specs(datasets, seeds, depths) + table3_specs(datasets, seeds, layers, prompt_counts)))


def table2_specs(datasets: Sequence[str], seeds: Sequence[int], depths: Sequence[int], n_ctx: int = 4) -> list[RunSpec]:
    """4+4 prompts in the first d blocks, for every d."""
    if not depths:
        return []
    return _zero_shot(datasets) + [RunSpec(d, "prompts", n_ctx, depth, s) for d in datasets for depth in depths for s in seeds]


def table3_specs(datasets: Sequence[str], seeds: Sequence[int], layers: int, prompt_counts: Sequence[int]) -> list[RunSpec]:
    """n+n prompts in every block, for every n."""
    if not prompt_counts:
        return []
    return _zero_shot(datasets) + [RunSpec(d, "prompts", n, layers, s) for d in datasets for n in prompt_counts for s in seeds]


# ----------------------------------------------------------------------------- inputs for the analyses
def test_images(clip: LoadedCLIP, data: DatasetSplits, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` test images (eval transform) taken round-robin over the classes, with their labels.

    Deterministic, and balanced so a dataset-level statistic is not dominated by the big classes."""
    from .data import ImageDataset, eval_transform

    by_class: dict[int, list] = {}
    for item in data.test:
        by_class.setdefault(item.label, []).append(item)
    chosen, index = [], 0
    while len(chosen) < min(count, len(data.test)):
        for items in by_class.values():
            if index < len(items) and len(chosen) < count:
                chosen.append(items[index])
        index += 1
    dataset = ImageDataset(chosen, eval_transform(clip))
    images, labels = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(images).to(clip.model.logit_scale.device), torch.tensor(labels)


def in_batches(images: torch.Tensor, labels: torch.Tensor | None = None, size: int = 32):
    """Split a batch into an iterable of batches (with labels when given), for the dataset-level analyses."""
    for start in range(0, len(images), size):
        if labels is None:
            yield images[start : start + size]
        else:
            yield images[start : start + size], labels[start : start + size]


def analysis_run(settings, clip: LoadedCLIP, data: DatasetSplits, progress: bool = True) -> RunResult:
    """The prompted model the analysis pages inspect: n_ctx + n_ctx prompts in every block, first seed.

    It is also a run of Tables 2 and 3 (full depth), so it is trained once for all pages."""
    return execute(RunSpec(data.name, "prompts", settings.n_ctx, clip.depth, settings.seeds[0]), clip, data, settings, progress)
