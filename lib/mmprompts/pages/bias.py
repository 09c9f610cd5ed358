"""Page 6 (notebooks/06_bias_vs_prompts.py): Table 1, zero-shot CLIP, same-size prompts, bias tuning and 10+10 prompts
(Sec. 3.4), and how its verdicts depend on the mini world and on the training recipe."""
from __future__ import annotations

from dataclasses import dataclass

from IPython.display import HTML

from ..claims import TaskAccuracies, Verdict, decided_in_every_design, paper_rows, table1_verdicts
from ..data import load_dataset
from ..experiments import FailedRun, RunSpec, run_all
from ..models import LoadedCLIP
from ..presets import table1_specs
from ..profiles import Settings
from ..tables import bias_wins, html_table, show, table1, task_accuracies, with_average
from ..variants import (VariantVerdicts, flipped, other_variants, recipe_dependence, recipe_grid, recipe_rows,
                        recipe_summary, recipe_tasks, variant_rows)
from ..worlds import ablation_pairs, world_dependence, world_tasks

__all__ = ["BiasPage", "NOTEBOOK", "measure", "paper_table", "recipe_runs", "recipe_tables", "runs", "table_1",
           "verdicts", "wins_table", "world_tables"]

NOTEBOOK = "06_bias_vs_prompts"


def runs(settings: Settings, clip: LoadedCLIP) -> list[RunSpec]:
    """Table 1's four columns on every dataset and seed, the mini world's ablation tasks included (the recipe
    variants train under other settings: `recipe_runs`)."""
    return table1_specs(world_tasks(settings.datasets), settings.seeds, clip.depth)


def recipe_runs(settings: Settings, clip: LoadedCLIP) -> list[tuple[Settings, list[RunSpec]]]:
    """The recipe variants' Table 1 runs, each with its settings (none outside the `mini` profile). Which tasks they
    train is read from this build's own Table 1 runs (`variants.recipe_tasks`), so those are trained first."""
    grid = list(recipe_grid(settings).values())[1:]  # the first is this build's recipe: `runs`
    if not grid:
        return []
    tasks = recipe_tasks(settings, clip, settings.load_datasets())
    return [(variant, table1_specs(tasks, variant.seeds, clip.depth)) for variant in grid]


@dataclass
class BiasPage:
    """What page 6 measures."""

    settings: Settings
    layers: int
    accuracies: dict[RunSpec, float | FailedRun]
    tasks: dict[str, TaskAccuracies]
    rows: dict[str, dict]  # tables.table1 on the settings' datasets
    dependence: list[VariantVerdicts]  # the statements of pages 1 and 6 in each world design
    by_recipe: dict[str, dict[str, TaskAccuracies]]  # Table 1's trained columns under each recipe (mini profile)
    recipes: list[VariantVerdicts]  # this page's statements under each recipe


def measure(settings: Settings, clip: LoadedCLIP) -> BiasPage:
    """Table 1 on every dataset and seed (and the world's ablation tasks), and the same under the recipe variants."""
    layers = clip.depth
    data = {name: load_dataset(name, settings.data_root) for name in world_tasks(settings.datasets)}
    accuracies = run_all(table1_specs(list(data), settings.seeds, layers), clip, settings, progress=False)
    tasks = task_accuracies(accuracies, data, layers)
    by_recipe, recipes = recipe_dependence(settings, clip, {d: data[d] for d in settings.datasets}, layers)
    return BiasPage(settings, layers, accuracies, tasks, table1(accuracies, settings.datasets, layers),
                    world_dependence(tasks, settings.datasets), by_recipe, recipes)


def verdicts(page: BiasPage) -> list[Verdict]:
    """Table 1's four statements, from the seed spread of the settings' datasets; a statement that another recipe of
    the page's grid (Table 6.7) or the other world design (EuroSAT's stand-in with novel class words, Table 6.5)
    decides otherwise is recorded inconclusive, each design's outcome said: both are this book's choices. A
    design in which a statement is not testable is set aside and named."""
    # world_dependence decides page 1's zero-shot statement first, then Table 1's
    worlds = {f"world: {name}": found[1:] for name, found in other_variants(page.dependence).items()}
    return decided_in_every_design(table1_verdicts({d: page.tasks[d] for d in page.settings.datasets},
                                                   page.settings.sizes_comparable),
                                   {**other_variants(page.recipes), **worlds},
                                   "the training recipe or the world design", "this build's recipe and world")


def table_1(page: BiasPage):
    """Table 6.1: Table 1's four columns."""
    layers = page.layers
    return show(with_average(page.rows), {"zeroshot": "CLIP (zero-shot)", "prompt": f"PROMPT (1+1 in {layers} blocks)",
                                          "bias": f"BIAS ({layers} blocks)",
                                          "optimal": f"OPTIMAL (10+10 in {layers} blocks)"},
                f"Table 6.1 — Zero-shot CLIP, same-size prompts, bias tuning and 10+10 prompts, {page.settings.shots} shots "
                f"per class (cf. paper Table 1)")


def wins_table(page: BiasPage) -> HTML:
    """Table 6.2: the datasets where bias tuning beats same-size prompts."""
    wins, count = bias_wins(page.rows), len(page.settings.datasets)
    return HTML(html_table(wins, f"Table 6.2 — The datasets where bias tuning beats same-size prompts ({len(wins)} of "
                           f"{count})") if wins else f"<p>Bias tuning beats same-size prompts on none of the {count} datasets.</p>")


def paper_table() -> HTML:
    """Table 6.3: this page's rules on the paper's Table 1 (positive controls)."""
    return HTML(html_table(paper_rows(NOTEBOOK), "Table 6.3 — This page's rules on the paper's Table 1"))


def world_tables(page: BiasPage) -> list:
    """Tables 6.4-6.5 (where the build has the world's ablation pairs) and which verdicts depend on the world design."""
    pairs = [task for pair in ablation_pairs(page.settings.datasets) for task in pair]
    shown = []
    if pairs:
        shown += [show(table1(page.accuracies, pairs, page.layers),
                       {"zeroshot": "CLIP (zero-shot)", "prompt": "PROMPT (1+1)", "bias": "BIAS", "optimal": "OPTIMAL (10+10)"},
                       "Table 6.4 — The EuroSAT stand-in with known class names and its novel-vocabulary ablation "
                       "(same images)"),
                  HTML(html_table(variant_rows(page.dependence, "world"),
                                  "Table 6.5 — The statements of pages 1 and 6 decided in each world design"))]
    return shown + [HTML(f"<p><b>Which verdicts depend on the world design:</b> {flipped(page.dependence, 'world design')}</p>")]


def recipe_tables(page: BiasPage) -> list[HTML]:
    """Tables 6.6-6.7 and their summary (mini profile), and which verdicts depend on the recipe."""
    shown = []
    if page.by_recipe:
        shown += [HTML(html_table(recipe_rows(page.by_recipe), "Table 6.6 — Table 1's trained columns under each recipe "
                                  "(mean over seeds; average over the tasks that learned, and the EuroSAT stand-in)")),
                  HTML(f"<p>{recipe_summary(page.by_recipe)}</p>"),
                  HTML(html_table(variant_rows(page.recipes, "recipe"),
                                  "Table 6.7 — This page's statements decided under each recipe"))]
    return shown + [HTML(f"<p><b>Which verdicts depend on the recipe:</b> {flipped(page.recipes, 'recipe')}</p>")]
