"""The claims of Tables 1–3 decided on accuracies, whichever produced them: this build's runs
(`tables.task_accuracies`) or the paper's own tables (`positive.paper_accuracies`).

`TaskAccuracies` holds one task's numbers; `table1_verdicts` and `sensitivity_verdicts` turn a set
of tasks into the rules' inputs (the EuroSAT stand-in, the per-task curves, the gain over
zero-shot that says whether a task learned) and decide every statement of pages 6 and 7, so that
the book's runs, the world designs, the recipe variants and the paper's numbers share one path.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from .core import Estimate, Verdict, dataset_average, gain_over_zero_shot
from .register import CLAIMS
from .rules import (decide_bias_beats_optimal_on_eurosat, decide_bias_beats_prompts, decide_bias_gain_largest,
                    decide_bias_near_optimal, decide_depth_best_near_top, decide_depth_exceeds_clip, decide_depth_rises,
                    decide_depths_differ, decide_many_classes_keep_gaining, decide_more_prompts_help,
                    decide_unstable_above, decide_zero_shot_weak, sizes_decidable)

__all__ = ["UNSTABLE_ABOVE", "TaskAccuracies", "sensitivity_verdicts", "table1_verdicts", "zero_shot_verdict"]

UNSTABLE_ABOVE = CLAIMS["count.unstable-above-10-per-branch"].limits["above"]  # per branch: the paper's "exceeds 20"


@dataclass(frozen=True)
class TaskAccuracies:
    """One task's accuracies (%) for the claims of Tables 1–3; each setting a mean over seeds with its SE."""

    zero_shot: float
    test_items: int  # test images: the binomial SE of the zero-shot accuracy
    classes: int
    analogue: str  # the paper's dataset it is, or stands for
    table1: Mapping[str, Estimate] = field(default_factory=dict)  # "prompt", "bias", "optimal"
    depths: Mapping[int, Estimate] = field(default_factory=dict)  # Table 2: 4+4 prompts in the first d blocks
    counts: Mapping[int, Estimate] = field(default_factory=dict)  # Table 3: n+n prompts in every block (failed: absent)
    count_runs: Mapping[int, Sequence[float | None]] = field(default_factory=dict)  # Table 3 per run, None = failed

    def gain(self, settings: Iterable[Estimate]) -> Estimate:
        """The gain over zero-shot of the best of `settings` (by mean): the statistic `did_learn` judges."""
        return gain_over_zero_shot(max(settings, key=lambda e: e.mean), self.zero_shot, self.test_items)


def _eurosat(tasks: Mapping[str, TaskAccuracies]) -> str | None:
    return next((d for d, t in tasks.items() if t.analogue == "eurosat"), None)


def zero_shot_verdict(tasks: Mapping[str, TaskAccuracies]) -> Verdict:
    """Page 1's statement on the tasks' zero-shot accuracies."""
    return decide_zero_shot_weak({d: t.zero_shot for d, t in tasks.items()}, {d: t.analogue for d, t in tasks.items()})


def table1_verdicts(tasks: Mapping[str, TaskAccuracies], sizes_comparable: bool = True) -> list[Verdict]:
    """Table 1's statements (page 6) on the tasks that have all three trained columns; a statement of an
    effect size is not testable where `sizes_comparable` is false (a stand-in model: `sizes_decidable`)."""
    tasks = {d: t for d, t in tasks.items() if {"prompt", "bias", "optimal"} <= set(t.table1)}
    column = {c: {d: t.table1[c] for d, t in tasks.items()} for c in ("prompt", "bias", "optimal")}
    learned_prompts = {d: t.gain([t.table1["bias"], t.table1["prompt"]]) for d, t in tasks.items()}
    learned_optimal = {d: t.gain([t.table1["bias"], t.table1["optimal"]]) for d, t in tasks.items()}
    eurosat = _eurosat(tasks)
    return [sizes_decidable(v, sizes_comparable) for v in (
        decide_bias_beats_prompts(column["bias"], column["prompt"], learned_prompts),
        decide_bias_gain_largest(eurosat, column["bias"], column["prompt"], learned_prompts),
        decide_bias_near_optimal(column["bias"], column["optimal"], learned_optimal),
        decide_bias_beats_optimal_on_eurosat(eurosat, column["bias"], column["optimal"], learned_optimal))]


def sensitivity_verdicts(tasks: Mapping[str, TaskAccuracies], layers: int, sizes_comparable: bool = True) -> list[Verdict]:
    """The statements of Tables 2 and 3 (page 7) on the tasks of the grid, for a `layers`-block model
    (`sizes_comparable` as for `table1_verdicts`)."""
    depths = {d: dict(t.depths) for d, t in tasks.items()}
    counts = {d: dict(t.counts) for d, t in tasks.items()}
    learned_depth = {d: t.gain(t.depths.values()) for d, t in tasks.items() if t.depths}
    learned_count = {d: t.gain(t.counts.values()) for d, t in tasks.items() if t.counts}
    below = {d: [e for n, e in t.counts.items() if n <= UNSTABLE_ABOVE] for d, t in tasks.items()}
    learned_below = {d: tasks[d].gain(cells) for d, cells in below.items() if cells}
    common = sorted(set.intersection(*(set(c) for c in depths.values())))
    average = {k: dataset_average({d: depths[d][k] for d in tasks}) for k in common}
    return [sizes_decidable(v, sizes_comparable) for v in (
        decide_depth_rises(depths, learned_depth),
        decide_depths_differ(depths, learned_depth),
        decide_many_classes_keep_gaining(depths, {d: t.classes for d, t in tasks.items()}, _eurosat(tasks), learned_depth),
        decide_depth_best_near_top(depths, learned_depth, layers),
        decide_depth_exceeds_clip(max(average.values(), key=lambda e: e.mean),
                                  statistics.fmean(t.zero_shot for t in tasks.values())),
        decide_more_prompts_help(counts, learned_count),
        decide_unstable_above({d: dict(tasks[d].count_runs) for d in learned_below},
                              {d: 100 / t.classes for d, t in tasks.items()}, learned_below),
    )]
