"""One module per page of the book: the runs the page reads, what it measures, its verdicts and what it shows.

Each module has
- `NOTEBOOK`: the page's file stem in notebooks/;
- `runs(settings, clip)`: every run the page reads (`book.book_runs` trains the union of the pages' lists
  before any page runs, so a page only reads the cache);
- `measure(settings, clip)`: what the page measures, as a small dataclass;
- `verdicts(measured)`: the page's verdicts, from the claims package's rules;
- the page's tables and figures, each with its caption, ready to display.

The notebook keeps the narration, the parameters and the displays.
"""
from __future__ import annotations

from ..experiments import RunSpec
from ..models import LoadedCLIP
from ..profiles import Settings
from . import alignment, attention, bias, ledger, sensitivity, text_prompts, vision_prompts, zero_shot

# The pages that read runs, in the book's order (the ledger, page 8, reads the verdicts they record).
PAGES = (zero_shot, attention, alignment, text_prompts, vision_prompts, bias, sensitivity)

__all__ = ["PAGES", "alignment", "attention", "bias", "ledger", "runs", "sensitivity", "text_prompts", "vision_prompts", "zero_shot"]


def runs(settings: Settings, clip: LoadedCLIP) -> list[RunSpec]:
    """Every run the book's pages read: the union of the pages' declared runs, in page order, each once."""
    return list(dict.fromkeys(spec for page in PAGES for spec in page.runs(settings, clip)))
