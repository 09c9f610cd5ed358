"""The paper's central claim by intervention: test accuracy of every arm of eq. 12, per dataset, run and branch.

For each dataset, the trained runs of one method (the analysis model's prompts, or bias tuning as
the positive control) are evaluated on the whole test split with each arm of `prompted.ARMS` in the
image tower, the text tower or both (`analysis.arm_correct`), next to zero-shot CLIP on the same
images. The constant-bias arm's terms are the mean prompt terms over the run's own few-shot training
images. Each run's per-image results are cached in its run folder (`interventions-v<N>.pt`), so a
rebuilt page only reads them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader

from .analysis import ARMS, arm_correct, prompt_term_means
from .data import ImageDataset, eval_transform, fewshot_splits
from .data.coop import DatasetSplits, Datum
from .experiments import RunSpec, analysis_model, execute, run_all
from .models import LoadedCLIP
from .prompted import PromptConfig, PromptedCLIP
from .storage import atomic_torch_save, cache_root
from .train import autocast

__all__ = ["ArmAccuracies", "arm_accuracies"]

# Bump when what an arm computes changes: cached per-image results of older versions are recomputed.
INTERVENTIONS_VERSION = "1"


@dataclass
class ArmAccuracies:
    """One dataset's test images: which ones zero-shot CLIP and each (branch, arm) of each run classify correctly."""

    dataset: str
    zero_shot: torch.Tensor  # [N] bool
    runs: dict[str, dict[tuple[str, str], torch.Tensor]]  # run label ("seed 1", or the imported file) -> [N] bool

    def accuracy(self, branch: str, arm: str) -> list[float]:
        """Test accuracy (percent) of each run with `arm` in the towers of `branch`."""
        return [100 * correct[(branch, arm)].float().mean().item() for correct in self.runs.values()]

    def per_image(self, branch: str, arm: str) -> torch.Tensor:
        """Per test image, the fraction of runs that classify it correctly [N] (what the rules pair over)."""
        return torch.stack([correct[(branch, arm)].float() for correct in self.runs.values()]).mean(0)

    @property
    def zero_shot_accuracy(self) -> float:
        return 100 * self.zero_shot.float().mean().item()


def arm_accuracies(settings, clip: LoadedCLIP, data: dict[str, DatasetSplits], method: PromptConfig,
                   batch_size: int = 128, progress: bool = True) -> dict[str, ArmAccuracies]:
    """`ArmAccuracies` of `method`'s runs (one per seed of `settings`, trained first when missing) on
    each dataset of `data`; with `settings.learned`, of the imported prompts instead."""
    if settings.learned is None:
        run_all([RunSpec(name, method, seed) for name in data for seed in settings.seeds], clip, settings,
                progress=progress)
    results = {}
    for name, dataset in data.items():
        test = _batches(clip, dataset.test, batch_size)
        runs = {}
        if settings.learned is not None:
            model = analysis_model(settings, clip, dataset, progress=False)
            train = fewshot_splits(dataset, settings.shots, settings.seeds[0],
                                   fallback_dir=cache_root(settings.cache) / "fewshot").train
            runs[Path(settings.learned).name] = _arms(model, clip, dataset, train, test, batch_size)
        for seed in settings.seeds if settings.learned is None else ():
            result = execute(RunSpec(name, method, seed), clip, dataset, settings, progress=False)
            train = fewshot_splits(dataset, settings.shots, seed, fallback_dir=cache_root(settings.cache) / "fewshot").train
            runs[f"seed {seed}"] = _cached(settings, result.key,
                                           lambda: _arms(result.model, clip, dataset, train, test, batch_size))
        zero_shot = _cached(settings, execute(RunSpec(name), clip, dataset, settings, progress=False).key,
                            lambda: {("zero-shot", "CLIP"): _zero_shot_correct(clip, dataset, test)})
        results[name] = ArmAccuracies(name, zero_shot[("zero-shot", "CLIP")], runs)
    return results


def _cached(settings, key: str, compute: Callable[[], dict]) -> dict:
    """Per-image results kept in the run's folder next to its metrics, computed on first use."""
    path = cache_root(settings.cache) / "runs" / key / f"interventions-v{INTERVENTIONS_VERSION}.pt"
    if path.is_file():
        return torch.load(path, weights_only=True)
    value = compute()
    atomic_torch_save(path, value)
    return value


@torch.no_grad()
def _zero_shot_correct(clip: LoadedCLIP, dataset: DatasetSplits, test: DataLoader) -> torch.Tensor:
    model = PromptedCLIP(clip)
    device = model.logit_scale.device
    with autocast(device):
        text = model.encode_text(model.prompt_texts(dataset.classnames, dataset.template))
        return torch.cat([model.logits(model.encode_image(images.to(device)), text).float().argmax(-1).cpu() == labels
                          for images, labels in test])


def _arms(model: PromptedCLIP, clip: LoadedCLIP, dataset: DatasetSplits, train: list[Datum], test: DataLoader,
          batch_size: int) -> dict[tuple[str, str], torch.Tensor]:
    template = dataset.template
    constant = prompt_term_means(model, (images for images, _ in _batches(clip, train, batch_size)),
                                 dataset.classnames, template)
    return arm_correct(model, test, dataset.classnames, constant, template, ARMS)


def _batches(clip: LoadedCLIP, items: list[Datum], batch_size: int) -> DataLoader:
    """The items' images (eval transform) with their labels, in batches, in order (read anew on every pass)."""
    return DataLoader(ImageDataset(items, eval_transform(clip)), batch_size=batch_size, shuffle=False)
