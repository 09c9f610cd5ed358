"""The paper's claims as tested code: what it says, where, and a rule that decides it from this run.

Each `Claim` holds the paper's words (quoted, with section / figure / table), what this
library measures for it, and its decision rule with the tolerance and why. Each `decide_*`
function is pure: it takes this run's statistics (plain numbers) and returns a `Verdict`
(`supports` / `contradicts` / `inconclusive`, the numbers it used, one generated sentence).
Notebooks compute the statistics with `mmprompts.analysis` and call these functions; they hold
no threshold and no verdict sentence of their own. Each page records its verdicts
(`record_verdicts`) next to its executed notebook, and the ledger page reads them all.

Tolerances. Differences are judged against their standard error (SE), never a bare sign:
"significant" means the difference is more than 2 SE away from the boundary (about a 95%
two-sided interval). The SE is the spread of the unit the paper averages over: seeds for
accuracies (Tables 1-3), images for relevancy and [cls]-attention maps (Figs. 2, 3, 6), and
blocks x heads for attention shares (Fig. 4, one bar per head). A statement about "most
datasets" needs a majority of the datasets shown, with none significantly the other way.

The package: `core` (Claim, Estimate, Verdict, estimates), `register` (CLAIMS), `rules` (the
decide_* functions), `effects` (statistics → per-dataset effects), `ledger` (recording and the
ledger page's rows).
"""
from .accuracy import TaskAccuracies, sensitivity_verdicts, table1_verdicts, zero_shot_verdict
from .core import (CONTRADICTS, INCONCLUSIVE, NOT_TESTABLE, OUTCOMES, SUPPORTS, Z, Claim, Estimate, Verdict,
                   binomial_se, dataset_average, estimate, gain_over_zero_shot, paired, seed_estimate, did_learn)
from .effects import cls_map_effects, maps_kept, mechanism_effects, relevancy_effects, text_attention_effects
from .ledger import (PAGE_SECTIONS, VERDICTS_ENV, PageVerdicts, SentenceRow, book_summary_html, counts_sentence, ledger_counts, ledger_html,
                     load_verdicts, record_verdicts, report, rule_numbers, sentence_outcome, sentence_rows, verdicts_folder)
from .positive import PAPER_SCOPE, nominal_se, paper_accuracies, paper_rows, paper_verdicts
from .register import CLAIMS
from .rules import (FAR_FROM_WEB_PHOTOS, SAME_SHARE, WAYS, combine, decide_bias_beats_optimal_on_eurosat, decide_bias_beats_prompts, decided_in_every_design,
                    decide_bias_gain_largest, decide_bias_near_optimal, decide_depth_best_near_top,
                    decide_depth_exceeds_clip, decide_depth_rises, decide_depths_differ,
                    decide_direction, decide_equal, decide_identities, decide_many_classes_keep_gaining,
                    decide_map_kept, decide_mechanism, decide_more_prompts_help, decide_relative_attention, decide_scope_unchanged,
                    decide_unstable_above, decide_zero_shot_weak, decide_eos_focus_on_sos, given_known_answer, given_premise, given_premises,
                    mechanism_conclusion, mechanism_way, not_learned, not_measured, not_testable, sizes_decidable,
                    too_few_tasks)

__all__ = [
    "CLAIMS", "CONTRADICTS", "FAR_FROM_WEB_PHOTOS", "WAYS", "INCONCLUSIVE", "NOT_TESTABLE", "OUTCOMES", "PAGE_SECTIONS",
    "PAPER_SCOPE", "SUPPORTS", "VERDICTS_ENV", "Z", "binomial_se", "book_summary_html", "Claim", "cls_map_effects", "maps_kept",
    "combine", "counts_sentence", "dataset_average", "decide_bias_beats_optimal_on_eurosat", "decide_bias_beats_prompts",
    "decide_bias_gain_largest", "decide_bias_near_optimal", "decided_in_every_design", "decide_depth_best_near_top",
    "decide_depth_exceeds_clip", "decide_depth_rises", "decide_depths_differ", "decide_direction",
    "decide_eos_focus_on_sos", "decide_equal", "decide_identities", "decide_many_classes_keep_gaining",
    "decide_map_kept", "decide_mechanism", "decide_more_prompts_help", "decide_relative_attention",
    "decide_scope_unchanged", "SAME_SHARE", "decide_unstable_above", "decide_zero_shot_weak", "Estimate", "estimate",
    "gain_over_zero_shot", "given_known_answer", "given_premise", "given_premises", "ledger_counts", "ledger_html", "load_verdicts",
    "mechanism_conclusion", "mechanism_effects", "mechanism_way", "nominal_se", "not_learned", "not_measured",
    "not_testable", "sizes_decidable", "too_few_tasks", "PageVerdicts", "paired", "paper_accuracies",
    "paper_rows", "paper_verdicts", "record_verdicts", "relevancy_effects", "report", "rule_numbers", "seed_estimate",
    "sensitivity_verdicts", "sentence_outcome", "sentence_rows", "SentenceRow", "table1_verdicts", "did_learn",
    "TaskAccuracies", "text_attention_effects", "Verdict", "verdicts_folder", "zero_shot_verdict",
]
