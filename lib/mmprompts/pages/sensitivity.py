"""Page 7 (notebooks/07_sensitivity.py): prompt depth and prompt count (Tables 2-3, Sec. 3.5, App. C), and this book's
best prompt setting of the grid against bias tuning."""
from __future__ import annotations

from dataclasses import dataclass

from IPython.display import HTML

from ..claims import Verdict, estimate, paper_rows, rule_numbers, sensitivity_verdicts
from ..claims.accuracy import UNSTABLE_ABOVE
from ..experiments import FailedRun, RunSpec, run_all, run_log, seed_accuracies
from ..figures import accuracy_curves, training_curves
from ..methods import method_label
from ..models import LoadedCLIP
from ..page import Captioned, figure
from ..presets import table1_methods, table1_specs, table2_specs, table3_methods, table3_specs
from ..profiles import Settings
from ..tables import (PAPER_LAYERS, best_prompt_setting, html_table, paper_dataset, show, table2, table3, task_accuracies,
                      with_average)

__all__ = ["NOTEBOOK", "SensitivityPage", "best_setting_table", "count_figure", "count_table", "depth_figure",
           "depth_table", "measure", "paper_table", "rule_table", "runs", "training_figure", "verdicts"]

NOTEBOOK = "07_sensitivity"


def runs(settings: Settings, clip: LoadedCLIP) -> list[RunSpec]:
    """Tables 2 and 3 on the grid's datasets, and Table 1's runs (the best prompt setting against bias tuning)."""
    return list(dict.fromkeys(table2_specs(settings.sensitivity_datasets, settings.seeds, settings.depths)
                              + table3_specs(settings.sensitivity_datasets, settings.seeds, clip.depth, settings.prompt_counts)
                              + table1_specs(settings.datasets, settings.seeds, clip.depth)))


@dataclass
class SensitivityPage:
    """What page 7 measures."""

    settings: Settings
    clip: LoadedCLIP
    accuracies: dict[RunSpec, float | FailedRun]
    depth_rows: dict[str, dict]  # tables.table2
    count_rows: dict[str, dict]  # tables.table3

    @property
    def layers(self) -> int:
        return self.clip.depth


def measure(settings: Settings, clip: LoadedCLIP) -> SensitivityPage:
    """Every run of the grid (and of Table 1), as Tables 2 and 3."""
    accuracies = run_all(runs(settings, clip), clip, settings, progress=False)
    layers = clip.depth
    return SensitivityPage(settings, clip, accuracies, table2(accuracies, settings.sensitivity_datasets, settings.depths, layers),
                           table3(accuracies, settings.sensitivity_datasets, layers, settings.prompt_counts))


def verdicts(page: SensitivityPage) -> list[Verdict]:
    """The sensitivity statements, from the seed spread of the grid's tasks."""
    s = page.settings
    grid = {name: d for name, d in s.load_datasets().items() if name in s.sensitivity_datasets}
    return sensitivity_verdicts(task_accuracies(page.accuracies, grid, page.layers, s.depths, s.prompt_counts), page.layers,
                                s.sizes_comparable)


def depth_table(page: SensitivityPage):
    """Table 7.1: 4+4 prompts in the first d blocks."""
    layers = page.layers
    columns = {0: "CLIP", **{d: f"d={d}" + (f" (paper d={round(PAPER_LAYERS * d / layers)})" if layers != PAPER_LAYERS else "")
                             for d in page.settings.depths}}
    return show(with_average(page.depth_rows), columns,
                f"Table 7.1 — 4+4 prompts in the first d of {layers} blocks (cf. paper Table 2)")


def depth_figure(page: SensitivityPage) -> Captioned:
    """Fig. 7.1: test accuracy against the number of prompted blocks."""
    return figure(accuracy_curves(page.depth_rows, [0, *page.settings.depths], "prompted blocks (0 = zero-shot)"),
                  "Test accuracy against the number of prompted blocks, this run (mean ± std over seeds) and the paper's "
                  "dataset each task stands for", "7.1", "Table 2")


def count_table(page: SensitivityPage):
    """Table 7.2: n+n prompts in every block."""
    return show(with_average(page.count_rows), {0: "CLIP", **{n: f"{n}+{n}" for n in page.settings.prompt_counts}},
                f"Table 7.2 — n+n prompts in all {page.layers} blocks (cf. paper Table 3; '–' where it reports no value)")


def count_figure(page: SensitivityPage) -> Captioned:
    """Fig. 7.2: test accuracy against the number of prompts per branch."""
    return figure(accuracy_curves(page.count_rows, [0, *page.settings.prompt_counts], "prompts per branch (0 = zero-shot)"),
                  "Test accuracy against the number of prompts per branch in every block", "7.2", "Table 3")


def best_setting_table(page: SensitivityPage) -> HTML:
    """Table 7.3: the best prompt setting of the grid against bias tuning (this book's analysis)."""
    bias = table1_methods(page.layers)["bias"]
    return HTML(html_table([{"dataset": d, "best setting of the grid": method_label(best), "its accuracy": cell.mean,
                             "bias tuning": estimate(seed_accuracies(page.accuracies, d, bias)).mean}
                            for d in page.settings.datasets for best, cell in [best_prompt_setting(page.accuracies, d)]
                            if best is not None],
                           "Table 7.3 — Best prompt setting of this build's grid against bias tuning (this book's analysis)"))


def rule_table(found: list[Verdict]) -> HTML:
    """Table 7.4: what the rules read."""
    return HTML(html_table(rule_numbers(found), "Table 7.4 — What the rules read (accuracy points; estimates as mean ± 2 SE "
                           "over seeds)"))


def training_figure(page: SensitivityPage) -> Captioned | None:
    """Fig. 7.3: the training loss of the EuroSAT stand-in's runs with the most prompts (none without that task)."""
    s = page.settings
    eurosat = next((d for d in s.sensitivity_datasets if paper_dataset(d) == "eurosat"), None)
    if eurosat is None:
        return None
    many = [n for n in s.prompt_counts if n >= UNSTABLE_ABOVE]  # the boundary count too, beside those the rule calls unstable
    logs = {f"{n}+{n} prompts": {f"seed {seed}": run_log(RunSpec(eurosat, table3_methods(page.layers, [n])[n], seed),
                                                         page.clip, s)
                                 for seed in s.seeds} for n in many}
    return figure(training_curves(logs), f"Training loss per step of the {eurosat} runs with {' and '.join(logs)} in "
                  "every block, one line per seed (a cross ends a run that diverged)", "7.3", "App. C.2")


def paper_table() -> HTML:
    """Table 7.5: this page's rules on the paper's Tables 2 and 3 (positive controls)."""
    return HTML(html_table(paper_rows(NOTEBOOK), "Table 7.5 — This page's rules on the paper's Tables 2 and 3"))
