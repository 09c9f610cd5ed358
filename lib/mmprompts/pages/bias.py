"""Page 6 (notebooks/06_bias_vs_prompts.py): Table 1, zero-shot CLIP, same-size prompts, bias tuning and 10+10 prompts
(Sec. 3.4), and how its verdicts depend on the mini world and on the training recipe."""
from __future__ import annotations

from ..experiments import RunSpec
from ..models import LoadedCLIP
from ..presets import table1_specs
from ..profiles import Settings
from ..worlds import world_tasks

__all__ = ["NOTEBOOK", "runs"]

NOTEBOOK = "06_bias_vs_prompts"


def runs(settings: Settings, clip: LoadedCLIP) -> list[RunSpec]:
    """Table 1's four columns on every dataset and seed, the mini world's ablation tasks included. (Its recipe
    variants train under other settings: `variants.recipe_grid`, trained by `book.build_book` after these.)"""
    return table1_specs(world_tasks(settings.datasets), settings.seeds, clip.depth)
