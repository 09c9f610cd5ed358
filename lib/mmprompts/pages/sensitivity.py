"""Page 7 (notebooks/07_sensitivity.py): prompt depth and prompt count (Tables 2-3, Sec. 3.5, App. C)."""
from __future__ import annotations

from ..experiments import RunSpec
from ..models import LoadedCLIP
from ..presets import table1_specs, table2_specs, table3_specs
from ..profiles import Settings

__all__ = ["NOTEBOOK", "runs"]

NOTEBOOK = "07_sensitivity"


def runs(settings: Settings, clip: LoadedCLIP) -> list[RunSpec]:
    """Tables 2 and 3 on the grid's datasets, and Table 1's runs (the best prompt setting against bias tuning)."""
    return list(dict.fromkeys(table2_specs(settings.grid, settings.seeds, settings.depths)
                              + table3_specs(settings.grid, settings.seeds, clip.depth, settings.prompt_counts)
                              + table1_specs(settings.datasets, settings.seeds, clip.depth)))
