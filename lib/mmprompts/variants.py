"""The same statements decided under variants of the setup, and which verdicts change.

Page 6 asks it twice: for the mini world's designs (`worlds.world_dependence`) and for the
training recipe (`recipe_grid` here). Each variant gives a list of verdicts of the same claims in
the same order; `compare` lines them up per claim, `variant_rows` makes the page's table and
`flipped` the sentence that names what changes.
"""
from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from typing import Mapping, Sequence

from .claims import TaskAccuracies, Verdict, did_learn, table1_verdicts
from .claims.text import names, signed
from .experiments import run_all
from .models import LoadedCLIP
from .presets import table1_specs
from .profiles import Settings
from .tables import task_accuracies

__all__ = ["VariantVerdicts", "by_variant", "compare", "other_variants", "flipped", "recipe_dependence", "recipe_grid", "recipe_rows", "recipe_summary",
           "recipe_tasks", "table1_learned", "variant_rows"]


@dataclass(frozen=True)
class VariantVerdicts:
    """One statement decided in each variant, and whether the outcome differs between them."""

    claim: str
    verdicts: dict[str, Verdict]  # variant -> verdict

    @property
    def flips(self) -> bool:
        return len({v.outcome for v in self.verdicts.values()}) > 1


def compare(by_variant: Mapping[str, Sequence[Verdict]]) -> list[VariantVerdicts]:
    """Per claim, its verdict in each variant (every variant decides the same claims in the same order)."""
    if not by_variant:
        return []
    lists = list(by_variant.values())
    claims = [v.claim.id for v in lists[0]]
    if any([v.claim.id for v in verdicts] != claims for verdicts in lists):
        raise ValueError(f"variants {list(by_variant)} decide different claims; each must decide {claims}")
    return [VariantVerdicts(claim, {name: verdicts[i] for name, verdicts in by_variant.items()})
            for i, claim in enumerate(claims)]


def by_variant(results: Sequence[VariantVerdicts]) -> dict[str, list[Verdict]]:
    """Per variant, its verdicts in the claims' order: the inverse of `compare`."""
    names = list(results[0].verdicts) if results else []
    return {name: [r.verdicts[name] for r in results] for name in names}


def other_variants(results: Sequence[VariantVerdicts]) -> dict[str, list[Verdict]]:
    """`by_variant` without the first variant: the alternatives to this build's own (`recipe_grid` lists this
    build's recipe first), for `claims.decided_in_every_design`."""
    return dict(list(by_variant(results).items())[1:])


def _label(result: VariantVerdicts) -> str:
    """The statement as a reader names it (`Claim.name`)."""
    return next(iter(result.verdicts.values())).claim.name


def variant_rows(results: Sequence[VariantVerdicts], variant: str) -> list[dict]:
    """Records for `tables.html_table`: a row per statement and variant (`variant` names the column)."""
    return [{"statement": _label(r), variant: name, "verdict": v.outcome, "this run": v.sentence,
             f"differs between {variant}s": "yes" if r.flips else "no"}
            for r in results for name, v in r.verdicts.items()]


def flipped(results: Sequence[VariantVerdicts], variant: str) -> str:
    """One sentence: which statements change their verdict with the `variant` ("world design", "recipe")."""
    changed = [r for r in results if r.flips]
    if not results:
        return f"No {variant} to compare."
    if not changed:
        return f"None of the {len(results)} statements changes its verdict with the {variant}."
    parts = [f"{_label(r)} ({' → '.join(v.outcome for v in r.verdicts.values())})" for r in changed]
    variants = " → ".join(results[0].verdicts)
    verb = "changes its" if len(changed) == 1 else "change their"
    return f"{len(changed)} of {len(results)} statements {verb} verdict ({variants}): " + "; ".join(parts) + "."


def recipe_grid(settings: Settings) -> dict[str, object]:
    """The settings under which page 6 decides Table 1 again: the profile's recipe, batch 16 (or 4 when
    it already is 16), and half and twice the learning rate — one change at a time.

    Only the `mini` profile: its recipe departs from the paper's (batch 4, a 4× lr, 6 epochs, no
    crops) to fit two CPU cores, and the question is whether those choices decide the verdicts. The
    `paper` profile runs the paper's own recipe, whose variants would triple Table 1's GPU time."""
    if settings.profile != "mini":
        return {}
    recipe = settings.recipe
    batch = 4 if recipe.batch_size == 16 else 16
    variants = {f"batch {recipe.batch_size}, lr {recipe.lr:g} (this build's)": recipe,  # first: `other_variants`
                f"batch {batch}": dataclasses.replace(recipe, batch_size=batch),
                f"lr × ½ ({recipe.lr / 2:g})": dataclasses.replace(recipe, lr=recipe.lr / 2),
                f"lr × 2 ({recipe.lr * 2:g})": dataclasses.replace(recipe, lr=recipe.lr * 2)}
    return {name: dataclasses.replace(settings, recipe=r) for name, r in variants.items()}


def recipe_tasks(settings: Settings, clip: LoadedCLIP, data: Mapping[str, object]) -> list[str]:
    """The tasks of `data` that the recipe grid trains: those on which this build's recipe learned
    Table 1 (its best trained column above zero-shot beyond 2 SE), i.e. the tasks Table 1's statements
    are decided on (the others are left out by every rule's precondition).

    Two reasons. Like for like: every recipe is judged on the same tasks, so a verdict that changes
    does so with the recipe, not with the tasks it is decided on. Cost: in the mini world the tasks
    that learn nothing here are `objects` and `relations`, and `objects` (20 classes, so 20 class
    prompts through the text tower at every one of its 80 steps an epoch) alone is about half the
    grid's training time. What this leaves out: a variant under which such a task would learn."""
    runs = run_all(table1_specs(list(data), settings.seeds, clip.depth), clip, settings, progress=False)
    return table1_learned(task_accuracies(runs, data, clip.depth))


def table1_learned(tasks: Mapping[str, TaskAccuracies]) -> list[str]:
    """The tasks whose best trained Table 1 column is above zero-shot beyond 2 SE (`TaskAccuracies.gain`, `claims.did_learn`)."""
    return [d for d, t in tasks.items() if t.table1 and did_learn(t.gain(t.table1.values()))]


def recipe_dependence(settings: Settings, clip: LoadedCLIP, data: Mapping[str, object], layers: int
                      ) -> tuple[dict[str, dict[str, TaskAccuracies]], list[VariantVerdicts]]:
    """Table 1's runs on `recipe_tasks` of `data` under each recipe of `recipe_grid(settings)` (cached
    runs reused), and Table 1's statements decided under each (empty for a profile without a grid)."""
    grid = recipe_grid(settings)
    learned = {d: data[d] for d in recipe_tasks(settings, clip, data)} if grid else {}
    by_recipe = {name: task_accuracies(run_all(table1_specs(list(learned), variant.seeds, layers), clip, variant,
                                               progress=False), learned, layers)
                 for name, variant in grid.items()}
    return by_recipe, compare({name: table1_verdicts(tasks, settings.sizes_comparable) for name, tasks in by_recipe.items()})


_COLUMNS = {"prompt": "PROMPT", "bias": "BIAS", "optimal": "OPTIMAL"}


def _averages(tasks: Mapping[str, TaskAccuracies]) -> dict[str, float]:
    """Table 1's trained columns averaged over the tasks (means over seeds)."""
    return {c: statistics.fmean(t.table1[c].mean for t in tasks.values()) for c in _COLUMNS}


def recipe_rows(by_recipe: Mapping[str, Mapping[str, TaskAccuracies]]) -> list[dict]:
    """Records for `tables.html_table`: per recipe, Table 1's trained columns averaged over the tasks
    and on the EuroSAT stand-in (means over seeds)."""
    rows = []
    for name, tasks in by_recipe.items():
        eurosat = next((d for d, t in tasks.items() if t.analogue == "eurosat"), None)
        row = {"recipe": name, **{f"{label}, average": value for label, value in zip(_COLUMNS.values(), _averages(tasks).values())}}
        if eurosat is not None:
            row.update({f"{label}, {eurosat}": tasks[eurosat].table1[c].mean for c, label in _COLUMNS.items()})
        rows.append(row)
    return rows


def recipe_summary(by_recipe: Mapping[str, Mapping[str, TaskAccuracies]]) -> str:
    """One sentence: how each variant (every recipe after the first) moves Table 1's column averages
    against the first recipe, and whether one trains all three columns better."""
    (first, base), *variants = by_recipe.items()
    if not variants:
        return "No recipe variant to compare."
    reference = _averages(base)
    changes, better = [], []
    for name, tasks in variants:
        delta = {c: v - reference[c] for c, v in _averages(tasks).items()}
        changes.append(" / ".join(signed(d, 1) for d in delta.values()) + f" with {name}")
        if all(d > 0 for d in delta.values()):
            better.append(name)
    return (f"Against {first}, the averages over {names(base)} of {' / '.join(_COLUMNS.values())} change by "
            + ", ".join(changes) + " points; "
            + (f"{' and '.join(better)} trains all three better." if better else "no variant trains all three better."))
