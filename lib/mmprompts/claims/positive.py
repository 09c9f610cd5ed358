"""Positive controls: every rule about Tables 1–3 (and page 1's zero-shot rule) run on the paper's own tables.

A rule that does not support a statement on the very numbers the paper drew it from either reads
the paper differently or is mis-specified; `paper_verdicts()` gives the ledger's column "on the
paper's numbers" (claims of figures without published numbers are absent).

The nominal SE. The paper reports means over seeds 1–3 and no spread. Each cell's SE is taken
from the paper's own Table 2: along a dataset's row (4 + 4 prompts in 1…12 blocks) the second
difference a[d−1] − 2 a[d] + a[d+1] cancels a smooth trend and leaves the cells' noise, with
6 × a cell's variance when the cells are independent; its median absolute value / 0.6745
(the normal quantile at ¾) is robust to the few real bends (EuroSAT's rise from 1 to 3 blocks, its
drop at 12). This gives per dataset an SE of a 3-seed mean from 0.09 (ImageNet, 50,000 test images)
to 1.2 points (EuroSAT), i.e. seed spreads of about 0.15 to 2 points, the range the prompt-learning
literature reports. The same SE holds for the dataset's cells of Tables 1 and 3 (the same recipe;
Table 1's PROMPT and Table 3's rows are the same runs as Table 2's in the paper's numbers). Zero-shot
CLIP has no seeds: its accuracy counts with the binomial SE of the dataset's test images.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import replace

from ..paper import PAPER_CLASSES, PAPER_DATASETS, PAPER_LAYERS, PAPER_TEST_ITEMS, TABLE1, TABLE2, TABLE3, dataset_name
from .accuracy import TaskAccuracies, sensitivity_verdicts, table1_verdicts, zero_shot_verdict
from .core import Estimate, Verdict

__all__ = ["PAPER_SCOPE", "nominal_se", "paper_accuracies", "paper_rows", "paper_verdicts"]

PAPER_SCOPE = "the paper's Tables 1–3 (ViT-B/16, CoOp data), nominal SE from Table 2's roughness"
_SEEDS = 3  # the paper's seeds 1-3
_NORMAL_MAD = 0.6745  # median |X| / σ of a normal X


def nominal_se(dataset: str) -> float:
    """The SE of one cell (a 3-seed mean) of the paper's tables on `dataset`: the robust scale of the
    second differences of its Table 2 row over 1…12 blocks, divided by √6 (see the module)."""
    row = [TABLE2[dataset][d] for d in range(1, PAPER_LAYERS + 1)]
    second = [row[i - 1] - 2 * row[i] + row[i + 1] for i in range(1, len(row) - 1)]
    return statistics.median(abs(x) for x in second) / _NORMAL_MAD / math.sqrt(6)


def paper_accuracies() -> dict[str, TaskAccuracies]:
    """The paper's Tables 1–3 per dataset (keyed by the paper's name for it, which the verdict sentences
    print; the rules find a dataset's kind by its `analogue`), each cell an Estimate with the nominal SE.
    Table 3's dashes (EuroSAT, 20 and 50 prompts per branch) are missing values, not failed runs: reading
    them as failures would make the instability rule's positive control circular (the rule would find the
    failures this book put there), and the paper does not say what a dash means."""
    def cell(value: float, dataset: str) -> Estimate:
        return Estimate(value, nominal_se(dataset), _SEEDS)

    return {dataset_name(d): TaskAccuracies(
        zero_shot=TABLE1[d]["zeroshot"], test_items=PAPER_TEST_ITEMS[d], classes=PAPER_CLASSES[d], analogue=d,
        table1={c: cell(TABLE1[d][c], d) for c in ("prompt", "bias", "optimal")},
        depths={k: cell(v, d) for k, v in TABLE2[d].items() if k},
        counts={n: cell(v, d) for n, v in TABLE3[d].items() if n and v is not None},
        count_runs={n: [v] for n, v in TABLE3[d].items() if n and v is not None},
    ) for d in PAPER_DATASETS}


def paper_verdicts() -> dict[str, Verdict]:
    """Claim id → the verdict of its rule on the paper's own numbers (scope `PAPER_SCOPE`)."""
    tasks = paper_accuracies()
    verdicts = [zero_shot_verdict(tasks), *table1_verdicts(tasks), *sensitivity_verdicts(tasks, PAPER_LAYERS)]
    return {v.claim.id: replace(v, scope=PAPER_SCOPE) for v in verdicts}


def paper_rows(page: str) -> list[dict]:
    """Records for `tables.html_table`: the verdict of each rule of `page` (a notebook stem) on the paper's numbers."""
    return [{"statement": v.claim.name, "verdict": v.outcome, "on the paper's numbers": v.sentence}
            for v in paper_verdicts().values() if v.claim.page == page]
