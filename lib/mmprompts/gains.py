"""Did the prompts an analysis page inspects learn? Per dataset, their test accuracy minus zero-shot CLIP's,
paired over the test images: the precondition of every claim about what learned prompts do (pages 2-5).

Each run's per-image hits (`train.correct_per_image`) are cached in its run folder (`hits-v2.pt`), so a
rebuilt page only reads them.
"""
from __future__ import annotations

import torch

from .analysis_inputs import analysis_model, analysis_spec
from .claims import Estimate, did_learn, paired
from .claims.text import plus_minus
from .data.coop import DatasetSplits
from .experiments import RunSpec, finished_results
from .models import LoadedCLIP
from .profiles import Settings
from .prompted import PromptConfig, PromptedCLIP
from .runs import RunResult, cached_artefact
from .train import correct_per_image

__all__ = ["gain_rows", "learned_gains"]

# The cached hits' file, `hits-v2.pt` (version 2 since the transplant test, which kept them before, was at its 2).
HITS_FILE = "hits-v2"


def learned_gains(settings: Settings, clip: LoadedCLIP, data: dict[str, DatasetSplits],
                  method: PromptConfig | None = None) -> dict[str, Estimate]:
    """Per dataset, how much the prompts an analysis page inspects beat zero-shot CLIP: accuracy points,
    paired over the test images (the precondition of every claim about what learned prompts do).
    `method`: the first seed's run of it; None: the analysis model (or the imported prompts)."""
    specs = {name: (RunSpec(name, method, settings.seeds[0]) if method is not None else
                    analysis_spec(settings, clip, name) if settings.imported_prompts is None else None) for name in data}
    found = finished_results([s for s in specs.values() if s is not None] + [RunSpec(name) for name in data], clip,
                             settings, splits=data, progress=False)
    gains = {}
    for name, dataset in data.items():
        spec = specs[name]
        prompted = (_run_hits(settings, clip, found[spec], dataset) if spec is not None else
                    _hits(analysis_model(settings, clip, dataset, progress=False), clip, dataset))
        clip_hits = _run_hits(settings, clip, found[RunSpec(name)], dataset)
        gains[name] = paired((100 * prompted.float()).tolist(), (100 * clip_hits.float()).tolist())
    return gains


def _run_hits(settings: Settings, clip: LoadedCLIP, result: RunResult, dataset: DatasetSplits,
              batch_size: int = 128) -> torch.Tensor:
    """Which test images a finished run (zero-shot too) classifies correctly, [N] bool; cached in its folder."""
    return cached_artefact(result.key, HITS_FILE, lambda: _hits(result.model, clip, dataset, batch_size), settings.cache)


def _hits(model: PromptedCLIP, clip: LoadedCLIP, dataset: DatasetSplits, batch_size: int = 128) -> torch.Tensor:
    """Which test images `model` classifies correctly, [N] bool (`train.correct_per_image`)."""
    hits = correct_per_image([model], clip, dataset, "test", batch_size, progress=False)[0]
    if hits is None:
        raise ValueError(f"{dataset.name}: the prompts' test logits are not finite (broken prompts); check the "
                         "imported prompts, or retrain the run")
    return hits


def gain_rows(gains: dict[str, dict[str, Estimate]]) -> list[dict]:
    """Table rows of the precondition of the claims about learned prompts (`learned_gains`): per dataset and
    model (e.g. {"deep": ..., "shallow": ...}) the gain over zero-shot CLIP, points ± 2 SE over the test images,
    and whether it is one ("learned")."""
    datasets = dict.fromkeys(d for by in gains.values() for d in by)
    return [{"dataset": d, **{f"{label} − CLIP": plus_minus(by[d], 1) + ("" if did_learn(by[d]) else " (not learned)")
                              for label, by in gains.items() if d in by}} for d in datasets]
