"""The runs of the paper's Tables 1-3: the one definition of each table's columns.

The presets list their runs (`RunSpec`s); `tables.py` looks the runs of each column up with the
same methods; `preset_specs` names them for the CLI's `sweep` and `tables`.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from .experiments import RunSpec
from .profiles import Settings
from .prompted import PromptConfig

__all__ = ["PRESETS", "TABLE1_OPTIMAL_N_CTX", "TABLE2_N_CTX", "preset_specs", "table1_methods", "table1_specs",
           "table2_methods", "table2_specs", "table3_methods", "table3_specs"]

PRESETS = ("table1", "table2", "table3", "all")
TABLE2_N_CTX = 4  # the paper's Table 2 varies the depth of 4+4 prompts
# Table 1's OPTIMAL column is, on all 11 datasets, Table 3's "20 prompts" row: 10 + 10 prompts in
# every block. The paper calls it "the optimal prompt tuning settings (acquired from the
# sensitivity analysis results)"; its numbers say which setting that was, so this is the definition.
TABLE1_OPTIMAL_N_CTX = 10


def table1_methods(layers: int) -> dict[str, PromptConfig | None]:
    """Table 1's columns: zero-shot, 1+1 prompts in every block (the same parameter count as the
    bias), a bias after every block, and OPTIMAL = 10+10 prompts in every block."""
    return {"zeroshot": None, "prompt": PromptConfig.prompts(1, layers), "bias": PromptConfig.bias(range(layers)),
            "optimal": PromptConfig.prompts(TABLE1_OPTIMAL_N_CTX, layers)}


def table2_methods(depths: Sequence[int]) -> dict[int, PromptConfig | None]:
    """Table 2's columns: 0 (zero-shot) and 4+4 prompts in the first d blocks for every d."""
    return {0: None, **{d: PromptConfig.prompts(TABLE2_N_CTX, d) for d in depths}}


def table3_methods(layers: int, prompt_counts: Sequence[int]) -> dict[int, PromptConfig | None]:
    """Table 3's columns: 0 (zero-shot) and n+n prompts in every block for every n."""
    return {0: None, **{n: PromptConfig.prompts(n, layers) for n in prompt_counts}}


def _specs(datasets: Sequence[str], seeds: Sequence[int], methods: Iterable[PromptConfig | None]) -> list[RunSpec]:
    """Zero-shot once per dataset (it has no seed), every other method once per seed."""
    methods = list(methods)
    zero_shot = [RunSpec(d) for d in datasets] if None in methods else []
    return zero_shot + [RunSpec(d, m, s) for d in datasets for m in methods if m is not None for s in seeds]


def table1_specs(datasets: Sequence[str], seeds: Sequence[int], layers: int) -> list[RunSpec]:
    """The runs of Table 1's four columns."""
    return _specs(datasets, seeds, table1_methods(layers).values())


def table2_specs(datasets: Sequence[str], seeds: Sequence[int], depths: Sequence[int]) -> list[RunSpec]:
    """4+4 prompts in the first d blocks, for every d."""
    return _specs(datasets, seeds, table2_methods(depths).values()) if depths else []


def table3_specs(datasets: Sequence[str], seeds: Sequence[int], layers: int, prompt_counts: Sequence[int]) -> list[RunSpec]:
    """n+n prompts in every block, for every n."""
    return _specs(datasets, seeds, table3_methods(layers, prompt_counts).values()) if prompt_counts else []


def preset_specs(preset: str, settings: Settings, layers: int) -> list[RunSpec]:
    """The runs of one of the paper's tables, or of all three ('all', each run once)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {PRESETS}")
    specs = []
    if preset in ("table1", "all"):
        specs += table1_specs(settings.datasets, settings.seeds, layers)
    if preset in ("table2", "all"):
        specs += table2_specs(settings.datasets, settings.seeds, settings.depths)
    if preset in ("table3", "all"):
        specs += table3_specs(settings.datasets, settings.seeds, layers, settings.prompt_counts)
    return list(dict.fromkeys(specs))
