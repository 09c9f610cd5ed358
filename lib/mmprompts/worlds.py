"""How much do Table 1's verdicts depend on the design of the mini world?

This book assumes the paper's CLIP had read the words of EuroSAT's classes ("forest", "river") and
that the images were what was unfamiliar (the paper itself speaks of EuroSAT's "limited category
information" and does not discuss CLIP's vocabulary). The mini world's `land` task is built
that way (words read in pretraining, a view pretraining never showed). Its ablation
`land-novel` shows the same images under class names the mini CLIP never read, the design the
book used before. `world_designs` swaps each ablation for the task whose images it shows, and
`world_dependence` decides Table 1's statements (and page 1's zero-shot one) in both worlds, so a reader sees which verdicts
rest on that design choice.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from .claims import (Verdict, decide_bias_beats_prompts, decide_bias_gain_largest, decide_bias_near_optimal,
                     decide_zero_shot_weak)
from .data.miniworld import MINI_TASKS, SPLIT_SIZES
from .experiments import FailedRun, RunSpec, seed_accuracies
from .presets import table1_methods
from .tables import paper_dataset

__all__ = ["WorldVerdicts", "ablation_pairs", "dependence_rows", "flipped", "table1_seed_accuracies", "table1_verdicts",
           "world_dependence", "world_designs", "world_tasks"]


def ablation_pairs(datasets: Sequence[str]) -> list[tuple[str, str]]:
    """(task, its ablation) for each of `datasets` that has one, when all of them are mini tasks."""
    if not all(d in MINI_TASKS for d in datasets):
        return []
    return [(task.images_of, name) for name, task in MINI_TASKS.items() if task.ablation and task.images_of in datasets]


def world_designs(datasets: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """"known names": `datasets` as given; "novel vocabulary": each task that has an ablation in
    MINI_TASKS (same images, class names never read) replaced by it. Empty when none has one."""
    swapped = dict(ablation_pairs(datasets))
    if not swapped:
        return {}
    return {"known names": tuple(datasets), "novel vocabulary": tuple(swapped.get(d, d) for d in datasets)}


def world_tasks(datasets: Sequence[str]) -> list[str]:
    """`datasets` followed by the ablations their world designs swap in: the tasks Table 1 trains for `world_dependence`."""
    return list(dict.fromkeys([*datasets, *(ablation for _, ablation in ablation_pairs(datasets))]))


def table1_seed_accuracies(accuracies: Mapping[RunSpec, float | FailedRun], datasets: Sequence[str],
                           layers: int) -> dict[str, dict[str, list[float]]]:
    """Per Table 1 column (prompt, bias, optimal) and dataset, the accuracy of each seed."""
    methods = table1_methods(layers)
    return {column: {d: seed_accuracies(accuracies, d, methods[column]) for d in datasets}
            for column in ("prompt", "bias", "optimal")}


def table1_verdicts(accuracies: Mapping[RunSpec, float | FailedRun], datasets: Sequence[str], layers: int,
                    test_items: Mapping[str, int] | None = None) -> list[Verdict]:
    """Table 1's three statements decided on `datasets` (bias vs same-size prompts, the largest gain
    on the EuroSAT stand-in, the slight gap to OPTIMAL); with `test_items` (test images per dataset)
    also the zero-shot statement of page 1, which the same runs decide."""
    seeds = table1_seed_accuracies(accuracies, datasets, layers)
    eurosat = next((d for d in datasets if paper_dataset(d) == "eurosat"), None)
    verdicts = [decide_bias_beats_prompts(seeds["bias"], seeds["prompt"]),
                decide_bias_gain_largest(eurosat, seeds["bias"], seeds["prompt"]),
                decide_bias_near_optimal(seeds["bias"], seeds["optimal"])]
    if test_items is not None:
        zero_shot = {d: accuracies[RunSpec(d)] for d in datasets}
        verdicts.insert(0, decide_zero_shot_weak(zero_shot, test_items, {d: paper_dataset(d) for d in datasets}))
    return verdicts


@dataclass(frozen=True)
class WorldVerdicts:
    """One statement decided in each world design, and whether the outcome differs between them."""

    claim: str
    verdicts: dict[str, Verdict]  # design -> verdict

    @property
    def flips(self) -> bool:
        return len({v.outcome for v in self.verdicts.values()}) > 1


def world_dependence(accuracies: Mapping[RunSpec, float | FailedRun], datasets: Sequence[str],
                     layers: int) -> list[WorldVerdicts]:
    """Table 1's statements (and page 1's) decided in every design of `world_designs(datasets)`."""
    designs = world_designs(datasets)
    test_items = {d: len(MINI_TASKS[d].classnames) * SPLIT_SIZES["test"] for tasks in designs.values() for d in tasks}
    by_design = {design: table1_verdicts(accuracies, tasks, layers, test_items) for design, tasks in designs.items()}
    if not by_design:
        return []
    claims = [v.claim.id for v in next(iter(by_design.values()))]
    return [WorldVerdicts(claim, {design: verdicts[i] for design, verdicts in by_design.items()})
            for i, claim in enumerate(claims)]


def dependence_rows(results: Sequence[WorldVerdicts]) -> list[dict]:
    """Records for `tables.html_table`: a row per statement and world design."""
    return [{"statement": r.claim, "world": design, "verdict": v.outcome, "this run": v.sentence,
             "differs between worlds": "yes" if r.flips else "no"}
            for r in results for design, v in r.verdicts.items()]


def flipped(results: Sequence[WorldVerdicts]) -> str:
    """One sentence: which statements change their verdict with the world design."""
    changed = [r for r in results if r.flips]
    if not results:
        return "No world design to compare: the datasets shown have no ablation."
    if not changed:
        return f"None of the {len(results)} statements changes its verdict with the world design."
    parts = [f"{r.claim} ({' → '.join(v.outcome for v in r.verdicts.values())})" for r in changed]
    designs = " → ".join(results[0].verdicts)
    verb = "changes its" if len(changed) == 1 else "change their"
    return f"{len(changed)} of {len(results)} statements {verb} verdict ({designs}): " + "; ".join(parts) + "."
