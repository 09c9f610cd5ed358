"""The paper's central claim by transplant: test accuracy of every arm of the factorial, per dataset, run and branch.

For each dataset, the trained runs of one method (the analysis model's prompts; or a known-answer
method: attention-bias tuning, which can act only through the first way, and bias tuning, whose
learned vectors are a second-way term) are evaluated on the test images with each arm of
`analysis.ARMS` in the image tower, the text tower or both (`analysis.arm_correct`), next to zero-shot
CLIP on the same images. The fixed terms of the constant-term arms are the mean prompt terms over the
run's own few-shot training images. Each run's per-image results are cached in its run folder
(`interventions-<images>-v<N>.pt`), so a rebuilt page only reads them; the readings of the paper's sentences
(`READINGS`) and the tables' rows are here too. Whether the prompts learned at all is `gains.py`'s.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection, Iterable, Iterator

import torch

from .analysis import ARMS, arm_correct, prompt_term_means
from .analysis_inputs import analysis_model, balanced_items
from .claims import NOT_TESTABLE, WAYS, Estimate, Verdict, decide_mechanism, did_learn, given_known_answer, mechanism_way
from .claims.text import plus_minus
from .data import fewshot_splits
from .data.coop import DatasetSplits, Datum
from .experiments import RunSpec, finished_results
from .models import LoadedCLIP
from .profiles import Settings
from .prompted import PromptConfig, PromptedCLIP
from .runs import cached_artefact
from .storage import cache_root
from .train import eval_batches

__all__ = ["ARM_NAMES", "READINGS", "ArmAccuracies", "arm_accuracies", "arm_rows", "effect_rows", "kept_rows",
           "reading_verdicts", "recovered"]

# How the book names each arm (analysis.ARMS) in its tables and figures: by what it keeps.
ARM_NAMES = {"clip": "CLIP", "reweighting": "re-weighting only", "prompt-term": "prompt term only", "full": "full model",
             "constant-term": "fixed term only", "reweighting-constant-term": "re-weighting + fixed term"}

# Bump when what an arm computes changes: cached per-image results of older versions are recomputed.
# (Plain-forward hits, `hits-v1.pt`, are unchanged; arm results are `interventions-*-v2.pt`.)
INTERVENTIONS_VERSION = "2"


@dataclass
class ArmAccuracies:
    """One dataset's test images: which ones each (branch, arm) of each run classifies correctly (the arm "clip" is
    zero-shot CLIP on the model's token layout)."""

    dataset: str
    runs: dict[str, dict[tuple[str, str], torch.Tensor]]  # run label ("seed 1", or the imported file) -> [N] bool

    @property
    def images(self) -> int:
        """How many test images the arms were evaluated on."""
        return len(next(iter(next(iter(self.runs.values())).values())))

    def accuracy(self, branch: str, arm: str) -> list[float]:
        """Test accuracy (percent) of each run with `arm` in the towers of `branch`."""
        return [100 * correct[(branch, arm)].float().mean().item() for correct in self.runs.values()]

    def effects_input(self, branch: str) -> dict[str, torch.Tensor]:
        """{arm: [runs, N] which test images each run classifies correctly} for one branch: what
        `claims.mechanism_effects` pairs."""
        return {arm: torch.stack([correct[(branch, arm)] for correct in self.runs.values()]) for arm in ARMS}


# Page 2's operationalisations of the paper's sentences on the two ways: label -> (claim, towers transplanted,
# hypothesis, the arm read as the second way).
READINGS: dict[str, tuple[str, str, str, str]] = {
    "both towers, the added term per input": ("mechanism.second-way", "both", "second", "prompt-term"),
    "both towers, a fixed term": ("mechanism.second-way-constant", "both", "second", "constant-term"),
    "text tower only, the added term per input": ("mechanism.second-way-text", "text", "second", "prompt-term"),
    "text tower only, a fixed term": ("mechanism.second-way-text-constant", "text", "second", "constant-term"),
    "image tower only, the added term per input": ("mechanism.second-way-image", "image", "second", "prompt-term"),
    "image tower only, a fixed term": ("mechanism.second-way-image-constant", "image", "second", "constant-term"),
    "hypothesis 1, added term": ("mechanism.first-way", "both", "first", "prompt-term"),
    "hypothesis 1, fixed term": ("mechanism.first-way-constant", "both", "first", "constant-term"),
    "hypothesis 3, added term": ("mechanism.both-ways", "both", "both", "prompt-term"),
    "hypothesis 3, fixed term": ("mechanism.both-ways-constant", "both", "both", "constant-term"),
}


def reading_verdicts(effects: dict[str, dict[str, dict[str, Estimate]]], check: Verdict | None) -> dict[str, Verdict]:
    """Every reading of READINGS decided from the per-towers effects ({branch: {dataset: mechanism_effects}}), each
    counted only if the rule recovered its known answer (`check`: `claims.given_known_answer`)."""
    return {label: given_known_answer(decide_mechanism(claim, effects[branch], hypothesis, term_arm=arm), check)
            for label, (claim, branch, hypothesis, arm) in READINGS.items()}


def arm_rows(arms: dict[str, ArmAccuracies], branch: str) -> list[dict]:
    """Table rows: per dataset, every arm's test accuracy in `branch`, mean ± std over the runs (the CLIP corner
    is the same for every run: its spread is 0 by construction, so it is shown without one)."""
    rows = []
    for name, result in arms.items():
        row = {"dataset": name}
        for arm in ARMS:
            values = result.accuracy(branch, arm)
            spread = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 and arm != "clip" else ""
            row[ARM_NAMES[arm]] = f"{statistics.fmean(values):.1f}{spread}"
        rows.append(row)
    return rows


def recovered(arms: dict[str, ArmAccuracies], branch: str, excluded: Collection[str] = ()
              ) -> dict[str, dict[str, float]]:
    """Per dataset and arm, the gain kept (arm − CLIP) / (full − CLIP) in percent (means over runs; CLIP = the
    factorial's CLIP corner); datasets where the full model does not beat CLIP are left out (nothing to
    keep), and so are `excluded` ones (`claims.not_learned`: a gain within noise makes the share noise over
    noise)."""
    out = {}
    for name, result in arms.items():
        if name in excluded:
            continue
        clip = statistics.fmean(result.accuracy(branch, "clip"))
        full = statistics.fmean(result.accuracy(branch, "full"))
        if full > clip:
            out[name] = {arm: 100 * (statistics.fmean(result.accuracy(branch, arm)) - clip) / (full - clip)
                         for arm in ARMS if arm not in ("full", "clip")}
    return out


def kept_rows(effects: dict[str, dict[str, Estimate]]) -> list[dict]:
    """Table rows of the gain each arm keeps on its own per dataset (`claims.mechanism_effects`): arm − CLIP in
    points, ± 2 SE paired over the test images (each image's share of runs correct), and as a share of the
    full model's gain over CLIP where that gain is beyond 2 SE."""
    rows = []
    for name, e in effects.items():
        gain = e["gain"].mean
        row = {"dataset": name, "full − CLIP": plus_minus(e["gain"], 1)}
        for arm in ARMS:
            key = f"{arm.replace('-', '_')}_gain"
            if key in e:
                share = f" ({100 * e[key].mean / gain:.0f}%)".replace("-", "\u2212") if did_learn(e["gain"]) else ""  # noise / noise
                row[ARM_NAMES[arm]] = plus_minus(e[key], 1) + share
        row["interaction"] = plus_minus(e["interaction"], 1)
        rows.append(row)
    return rows


def effect_rows(effects: dict[str, dict[str, Estimate]], term_arm: str = "prompt-term") -> list[dict]:
    """Table rows of what the mechanism rule reads per dataset (`claims.mechanism_effects`, points, ± 2 SE) with
    the second way read as `term_arm` ("prompt-term": the added term as computed for each input;
    "constant-term": fixed across inputs), and the hypothesis it decides there (`claims.mechanism_way`)."""
    key = term_arm.replace("-", "_")
    together = "full" if term_arm == "prompt-term" else "reweighting-constant-term"
    rows = []
    for name, e in effects.items():
        term = "fixed term" if term_arm == "constant-term" else "added term"
        way = mechanism_way(e, term_arm)
        decided = "not testable (no gain)" if way == NOT_TESTABLE else WAYS[way]  # the table's full − CLIP says why
        row = {"dataset": name, "decided": decided, "full − CLIP": plus_minus(e["gain"], 1),
               "re-weighting − ½ gain": plus_minus(e["reweighting_half"], 1),
               f"{term} − ½ gain": plus_minus(e[f"{key}_half"], 1),
               f"{term} − re-weighting": plus_minus(e[f"{key}_vs_reweighting"], 1)}
        if together != "full":
            row["both − ½ gain"] = plus_minus(e[f"{together.replace('-', '_')}_half"], 1)
        rows.append(row)
    return rows


def arm_accuracies(settings: Settings, clip: LoadedCLIP, data: dict[str, DatasetSplits], method: PromptConfig,
                   batch_size: int = 128, progress: bool = True) -> dict[str, ArmAccuracies]:
    """`ArmAccuracies` of `method`'s runs (one per seed of `settings`, trained first when missing) on
    `settings.intervention_images` balanced test images of each dataset of `data` (0: all of them);
    with `settings.imported_prompts`, of the imported prompts instead."""
    specs = [RunSpec(name, method, seed) for name in data for seed in settings.seeds] if settings.imported_prompts is None else []
    found = finished_results(specs, clip, settings, splits=data, progress=progress)
    out = {}
    for name, dataset in data.items():
        items = balanced_items(dataset.test, settings.intervention_images or None)
        # The runs of a dataset share its test images: when CLIP's image-tower parts of them fit in memory, they
        # are recorded once (with the images' batches) instead of once per run.
        clip_parts = [] if _clip_parts_bytes(clip, len(items)) <= CLIP_PARTS_MEMORY else None
        test = _Batches(items, clip, batch_size, keep=clip_parts is not None)
        runs = {}
        if settings.imported_prompts is not None:
            model = analysis_model(settings, clip, dataset, progress=False)
            train = fewshot_splits(dataset, settings.shots, settings.seeds[0],
                                   fallback_dir=cache_root(settings.cache) / "fewshot").train
            runs[Path(settings.imported_prompts).name] = _arms(model, clip, dataset, train, test, batch_size, clip_parts)
        for seed in settings.seeds if settings.imported_prompts is None else ():
            result = found[RunSpec(name, method, seed)]
            train = fewshot_splits(dataset, settings.shots, seed, fallback_dir=cache_root(settings.cache) / "fewshot").train
            runs[f"seed {seed}"] = _cached(settings, result.key, f"interventions-{settings.intervention_images or 'all'}",
                                           lambda: _arms(result.model, clip, dataset, train, test, batch_size, clip_parts))
        out[name] = ArmAccuracies(name, runs)
    return out


# The most memory the zero-shot image-tower parts of one dataset's intervention images may take to be kept across
# its runs (the mini model's 300 images: about 115 MB; the whole test split of ViT-B/16 would take far more).
CLIP_PARTS_MEMORY = 1 << 30


def _clip_parts_bytes(clip: LoadedCLIP, images: int) -> int:
    """The bytes of CLIP's recorded image-tower parts (r, s, t of every block, float32) for `images` images."""
    visual = clip.model.visual
    blocks = visual.transformer.resblocks
    tokens = visual.positional_embedding.shape[0]
    width = visual.transformer.width  # heads × their width
    heads = blocks[0].attn.num_heads
    return 4 * images * len(blocks) * (heads * tokens * (tokens + 1) + tokens * width)


def _cached(settings: Settings, key: str, what: str, compute: Callable[[], object]):
    """Per-image results kept in the run's folder next to its metrics, computed on first use."""
    return cached_artefact(key, f"{what}-v{INTERVENTIONS_VERSION}", compute, settings.cache)


def _arms(model: PromptedCLIP, clip: LoadedCLIP, dataset: DatasetSplits, train: list[Datum], test: Iterable,
          batch_size: int, clip_parts: list | None = None) -> dict[tuple[str, str], torch.Tensor]:
    template = dataset.template
    constant = prompt_term_means(model, (images for images, _ in eval_batches(train, clip, batch_size)),
                                 dataset.classnames, template)
    return arm_correct(model, test, dataset.classnames, constant, template, ARMS, clip_image_parts=clip_parts)


class _Batches:
    """The items' images (eval transform) with their labels in batches (`train.eval_batches`), on every pass;
    with `keep`, read once and kept."""

    def __init__(self, items: list[Datum], clip: LoadedCLIP, batch_size: int, keep: bool):
        self.items, self.clip, self.batch_size, self.keep = items, clip, batch_size, keep
        self._kept: list | None = None

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if not self.keep:
            return eval_batches(self.items, self.clip, self.batch_size)
        if self._kept is None:
            self._kept = list(eval_batches(self.items, self.clip, self.batch_size))
        return iter(self._kept)
