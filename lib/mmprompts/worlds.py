"""How much do Table 1's verdicts depend on the design of the mini world?

This book assumes the paper's CLIP had read the words of EuroSAT's classes ("forest", "river") and
that the images were what was unfamiliar (the paper itself speaks of EuroSAT's "limited category
information" and does not discuss CLIP's vocabulary). The mini world's `land` task is built
that way (words read in pretraining, a view pretraining never showed). Its ablation
`land-novel` shows the same images under class names the mini CLIP never read, the design the
book used before. `world_designs` swaps each ablation for the task whose images it shows, and
`world_dependence` decides Table 1's statements (and page 1's zero-shot one) in both worlds
(`variants.compare`), so a reader sees which verdicts rest on that design choice.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from .claims import TaskAccuracies, table1_verdicts, zero_shot_verdict
from .data.miniworld import MINI_TASKS
from .variants import VariantVerdicts, compare

__all__ = ["ablation_pairs", "world_dependence", "world_designs", "world_tasks"]


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


def world_dependence(tasks: Mapping[str, TaskAccuracies], datasets: Sequence[str]) -> list[VariantVerdicts]:
    """Page 1's zero-shot statement and Table 1's, decided in every design of `world_designs(datasets)`;
    `tasks` holds the accuracies of every task of `world_tasks(datasets)`. The designs are the mini world's,
    so no effect size of the paper's CLIP is decided in them (`claims.sizes_decidable`)."""
    return compare({design: [zero_shot_verdict({d: tasks[d] for d in names}),
                             *table1_verdicts({d: tasks[d] for d in names}, sizes_comparable=False)]
                    for design, names in world_designs(datasets).items()})
