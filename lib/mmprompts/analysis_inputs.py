"""What the analysis pages inspect: the prompted models (this book's analysis runs, or imported prompts) and test images."""
from __future__ import annotations

from typing import Iterator, Sequence

import torch

from .data.coop import DatasetSplits, Datum
from .experiments import RunSpec, trained_models
from .interop import import_prompts
from .models import LoadedCLIP
from .profiles import Settings
from .presets import table1_methods
from .prompted import PromptedCLIP
from .train import eval_batches

__all__ = ["analysis_model", "analysis_models", "analysis_spec", "balanced_items", "balanced_test_images", "in_batches",
           "positive_control_models", "positive_control_spec"]


def balanced_items(items: Sequence[Datum], count: int | None) -> list[Datum]:
    """The first `count` items taken round-robin over the classes (all of them for None).

    Deterministic, and balanced so a dataset-level statistic is not dominated by the big classes."""
    if count is None or count >= len(items):
        return list(items)
    by_class: dict[int, list] = {}
    for item in items:
        by_class.setdefault(item.label, []).append(item)
    chosen, index = [], 0
    while len(chosen) < count:
        for members in by_class.values():
            if index < len(members) and len(chosen) < count:
                chosen.append(members[index])
        index += 1
    return chosen


def balanced_test_images(clip: LoadedCLIP, data: DatasetSplits, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` test images (eval transform) taken round-robin over the classes (`balanced_items`), with their labels."""
    images, labels = zip(*eval_batches(balanced_items(data.test, count), clip))
    return torch.cat(images).to(clip.model.logit_scale.device), torch.cat(labels)


def in_batches(images: torch.Tensor, labels: torch.Tensor | None = None, size: int = 32) -> Iterator:
    """Split a batch into an iterable of batches (with labels when given), for the dataset-level analyses."""
    for start in range(0, len(images), size):
        if labels is None:
            yield images[start : start + size]
        else:
            yield images[start : start + size], labels[start : start + size]


def analysis_spec(settings: Settings, clip: LoadedCLIP, dataset: str) -> RunSpec:
    """The run of the prompted model the analysis pages inspect on `dataset`: n_ctx + n_ctx prompts in every block,
    first seed. It is also a run of Tables 2 and 3 (full depth), so it is trained once for all pages."""
    return RunSpec(dataset, settings.analysis_method(clip.depth), settings.seeds[0])


def analysis_models(settings: Settings, clip: LoadedCLIP, data: dict[str, DatasetSplits],
                    progress: bool = True) -> dict[str, PromptedCLIP]:
    """The prompted model an analysis page inspects on each dataset of `data`: the prompts of the checkpoint
    `settings.imported_prompts` (IVLP/PromptSRC, VPT, MaPLe or CoOp, see `interop`), or else this book's analysis run.

    The analysis runs of every dataset of the settings are asked for together, whichever a page
    inspects: they train as one group, so their results do not depend on which page ran first."""
    if settings.imported_prompts is not None:
        return {name: import_prompts(settings.imported_prompts, clip) for name in data}
    specs = {name: analysis_spec(settings, clip, name) for name in dict.fromkeys([*settings.datasets, *data])}
    models = trained_models(list(specs.values()), clip, settings, splits=data, progress=progress)
    return {name: models[specs[name]] for name in data}


def analysis_model(settings: Settings, clip: LoadedCLIP, data: DatasetSplits, progress: bool = True) -> PromptedCLIP:
    """`analysis_models` for one dataset."""
    return analysis_models(settings, clip, {data.name: data}, progress)[data.name]


def positive_control_spec(settings: Settings, clip: LoadedCLIP, dataset: str) -> RunSpec:
    """The positive control of the claims of no change on `dataset` (`analysis.POSITIVE_CONTROL`): bias tuning after
    every block, first seed, with this build's recipe: Table 1's BIAS run (`presets.table1_specs`), so nothing new
    is trained."""
    return RunSpec(dataset, table1_methods(clip.depth)["bias"], settings.seeds[0])


def positive_control_models(settings: Settings, clip: LoadedCLIP, data: dict[str, DatasetSplits],
                            progress: bool = False) -> dict[str, PromptedCLIP]:
    """The positive control's model (`positive_control_spec`) on each dataset of `data`, whatever prompts the page
    inspects (imported ones included): it is a run of this build, of the same task."""
    specs = {name: positive_control_spec(settings, clip, name) for name in data}
    models = trained_models(list(specs.values()), clip, settings, splits=data, progress=progress)
    return {name: models[specs[name]] for name in data}
