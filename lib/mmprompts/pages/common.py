"""What several page modules declare alike."""
from __future__ import annotations

from ..analysis_inputs import analysis_spec
from ..experiments import RunSpec
from ..models import LoadedCLIP
from ..profiles import Settings

__all__ = ["analysis_runs"]


def analysis_runs(settings: Settings, clip: LoadedCLIP) -> list[RunSpec]:
    """The runs an analysis page (2, 4, 5) reads on every dataset: zero-shot CLIP, whose test hits its prompts'
    gains are paired with (`mechanism.learned_gains`), and the analysis model (none with imported prompts)."""
    specs = [RunSpec(name) for name in settings.datasets]
    return specs + ([analysis_spec(settings, clip, name) for name in settings.datasets] if settings.imported_prompts is None else [])
