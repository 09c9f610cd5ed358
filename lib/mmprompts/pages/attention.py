"""Page 2 (notebooks/02_prompts_in_attention.py): eq. 12's decomposition block by block with its null controls,
and the transplant of each of its parts between zero-shot CLIP and the prompted model (the two ways)."""
from __future__ import annotations

from dataclasses import dataclass

from IPython.display import HTML

from ..analysis import BRANCHES, CONTROLS, attention_shift, decompose_attention, null_controls, similarity_attention
from ..analysis_inputs import analysis_models, balanced_test_images, in_batches
from ..claims import (Estimate, Verdict, decide_direction, decide_identities, decide_mechanism, decide_relative_attention,
                      estimate, mechanism_conclusion, mechanism_effects, not_learned, paired)
from ..claims.text import number, plus_minus, scientific
from ..experiments import RunSpec
from ..figures import block_lines, recovered_bars
from ..gains import gain_rows, learned_gains
from ..mechanism import (ARM_NAMES, ArmAccuracies, arm_accuracies, arm_rows, effect_rows, kept_rows, reading_verdicts,
                         recovered)
from ..methods import method_label
from ..models import LoadedCLIP
from ..page import Captioned, figure
from ..profiles import Settings
from ..prompted import PromptConfig, PromptedCLIP
from ..tables import html_table
from .common import analysis_runs

__all__ = ["AttentionPage", "NOTEBOOK", "arm_tables", "block_figure", "conclusion", "controls_table", "gains_table",
           "identity_table", "known_methods", "measure", "recovered_figure", "rule_tables", "runs", "verdicts"]

NOTEBOOK = "02_prompts_in_attention"
DECOMPOSITION_IMAGES = 16  # test images per dataset for the decomposition's statistics (Tables 2.1-2.2, Fig. 2.1)


def known_methods(layers: int) -> dict[str, PromptConfig]:
    """The two known answers of the transplant rule: attention-bias tuning acts only through the first way, bias
    tuning's learned vectors are an added term (the second way)."""
    return {"attention-bias tuning": PromptConfig.attention_bias(range(layers)),
            "bias tuning": PromptConfig.bias(range(layers))}


def runs(settings: Settings, clip: LoadedCLIP) -> list[RunSpec]:
    """The analysis model of every dataset, the zero-shot runs it is paired with, and the transplant's runs: the
    analysis configuration and both known answers on every seed (none with imported prompts but CLIP's)."""
    specs = analysis_runs(settings, clip)
    if settings.imported_prompts is None:
        specs += [RunSpec(name, method, seed)
                  for method in (settings.analysis_method(clip.depth), *known_methods(clip.depth).values())
                  for name in settings.datasets for seed in settings.seeds]
    return specs


@dataclass
class AttentionPage:
    """What page 2 measures."""

    settings: Settings
    records: dict[str, dict]  # per dataset: the decomposition's statistics (see `measure`)
    relative: Verdict  # the relative-attention rule's verdict (Table 2.2 shows the block it reads)
    gains: dict[str, Estimate]  # the analysed prompts' test accuracy minus CLIP's, per dataset
    excluded: dict[str, str]  # the datasets whose prompts did not learn, and why
    method: PromptConfig  # the analysis configuration
    arms: dict[str, ArmAccuracies]  # its transplant arms, per dataset
    effects: dict[str, dict[str, dict[str, Estimate]]]  # {branch: {dataset: mechanism_effects}}
    known_methods: dict[str, PromptConfig]
    known_effects: dict[str, dict[str, dict[str, Estimate]]]  # {known answer: {dataset: effects, both towers}}

    @property
    def block(self) -> int:
        """The block (0-based) the relative-attention rule reads: where the learned prompts move attention most."""
        if "block" in self.relative.numbers:
            return self.relative.numbers["block"] - 1
        # a one-block model: the check reads no later block
        return 0


def _decomposition(settings: Settings, clip: LoadedCLIP, model: PromptedCLIP, zero_shot: PromptedCLIP, data) -> dict:
    images, _ = balanced_test_images(clip, data, DECOMPOSITION_IMAGES)
    parts = [decompose_attention(model, images, layer) for layer in range(clip.depth)]
    controls = null_controls(clip, model, settings.seeds[0])
    return {
        "error": max(max(p.scaling_error, p.sum_error) for p in parts),
        "cls_share": [100 * (1 - p.ratio[..., 0])[:, :, 0].mean().item() for p in parts],
        "relative_size": [(p.prompt_part.norm(dim=-1) / p.input_part.norm(dim=-1)).mean().item() for p in parts],
        "shift": attention_shift(model, zero_shot, in_batches(images), progress=False),
        "shift_controls": {c: attention_shift(m, zero_shot, in_batches(images), progress=False) for c, m in controls.items()},
        "similarity": similarity_attention(model, images),
        "similarity_controls": {c: similarity_attention(m, images) for c, m in controls.items()},
    }


def measure(settings: Settings, clip: LoadedCLIP) -> AttentionPage:
    """The decomposition on every dataset's analysis model (first seed) and its null controls, the prompts' gains,
    and the transplant arms of the analysis configuration and (trained runs only) of both known answers."""
    data = settings.load_datasets()
    zero_shot = PromptedCLIP(clip)
    models = analysis_models(settings, clip, data, progress=False)
    records = {name: _decomposition(settings, clip, model, zero_shot, data[name]) for name, model in models.items()}
    gains = learned_gains(settings, clip, data)
    excluded = not_learned(gains)
    # pooled over every dataset: a check of what adding tokens does, for any prompts (learned or not)
    shift = [row for name in records for row in records[name]["shift"].tolist()]
    shift_controls = {c: [row for name in records for row in records[name]["shift_controls"][c].tolist()] for c in CONTROLS}
    relative = decide_relative_attention(shift, shift_controls)
    method = settings.analysis_method(clip.depth)
    arms = arm_accuracies(settings, clip, data, method, progress=False)
    known = known_methods(clip.depth)
    known_arms = ({name: arm_accuracies(settings, clip, data, m, progress=False) for name, m in known.items()}
                  if settings.imported_prompts is None else {})
    effects = {branch: {d: mechanism_effects(a.effects_input(branch)) for d, a in arms.items()} for branch in BRANCHES}
    known_effects = {name: {d: mechanism_effects(a.effects_input("both")) for d, a in by.items()}
                     for name, by in known_arms.items()}
    return AttentionPage(settings, records, relative, gains, excluded, method, arms, effects, known,
                         known_effects)


def _known_answers(page: AttentionPage) -> list[Verdict]:
    if not page.known_effects:
        return []
    return [decide_mechanism("mechanism.known-first-way", page.known_effects["attention-bias tuning"], "first"),
            decide_mechanism("mechanism.known-second-way", page.known_effects["bias tuning"], "second")]


def _readings(page: AttentionPage) -> dict[str, Verdict]:
    known_answers = _known_answers(page)
    second_way_check = known_answers[1] if known_answers else None  # the rule's positive control gates its verdicts
    return reading_verdicts(page.effects, second_way_check)


def verdicts(page: AttentionPage) -> list[Verdict]:
    """The page's verdicts: the similarity sentence and every reading of the paper's conclusion, then the
    checks: the identities, Fig. 1's relative attention and the rule's two known or expected answers."""
    records = page.records
    similarity = {d: estimate(r["similarity"].tolist()) for d, r in records.items()}
    similarity_versus = {c: {d: paired(r["similarity"].tolist(), r["similarity_controls"][c].tolist())
                             for d, r in records.items()} for c in CONTROLS}
    return [  # the paper's sentences first, the checks of the implementation and of the rule after them
        decide_direction("formulation.similar-tokens-attend", similarity, +1,
                         "the correlation between a token's similarity to a prompt and its attention on it",
                         controls=similarity_versus, excluded=page.excluded),
        *_readings(page).values(),
        decide_identities(max(r["error"] for r in records.values())),
        page.relative,
        *_known_answers(page),
    ]


def conclusion(page: AttentionPage) -> HTML:
    """The paper's conclusion in this build, in prose written from the verdicts."""
    readings = {k: v for k, v in _readings(page).items() if not k.startswith("hypothesis")}
    return HTML(f"<p><b>The paper's conclusion, in this build.</b> "  # where it holds: said once, in the strip
                f"{mechanism_conclusion(readings, _known_answers(page))}</p>")


def block_figure(page: AttentionPage) -> Captioned:
    """Fig. 2.1: per block, the [cls] attention on the prompts, the prompt part's size and the attention moved."""
    records = page.records
    return figure(block_lines({"[cls] attention on the prompts (%)": {n: r["cls_share"] for n, r in records.items()},
                               "‖prompt part‖ / ‖input part‖": {n: r["relative_size"] for n, r in records.items()},
                               "relative attention moved from CLIP's (TV)": {n: r["shift"].mean(0).tolist()
                                                                             for n, r in records.items()}},
                              log=["‖prompt part‖ / ‖input part‖"]),
                  "Per block of the image tower: the [cls] query's attention on the vision prompts, the size of the prompt "
                  "part of the update against the input part, and how far the attention among input tokens moved from "
                  "zero-shot CLIP's (0 in block 1, where the prompts only rescale it)", "2.1", "Fig. 1")


def identity_table(page: AttentionPage) -> HTML:
    """Table 2.1: per dataset, the identities' largest error, the [cls] attention on the prompts, the attention moved."""
    return HTML(html_table([{"dataset": n, "identity error": f"{r['error']:.1e}", "[cls]→P, block 1 (%)": r["cls_share"][0],
                             "[cls]→P, last (%)": r["cls_share"][-1], "TV, largest": r["shift"].mean(0).max().item()}
                            for n, r in page.records.items()],
                           "Table 2.1 — Per dataset: the identities' largest error, the [cls] query's attention on the prompts, "
                           "the attention moved from CLIP's",
                           note="P: the prompts, in the first and last block. TV: the attention moved from CLIP's (total "
                           "variation), the largest over the blocks (Table 2.2: in block 1 and where the rule reads it)."))


def controls_table(page: AttentionPage) -> HTML:
    """Table 2.2: the attention moved (TV) and the similarity correlation, learned prompts against the null controls."""
    records, block, read = page.records, page.block, page.relative.numbers  # the pooled row: what the check read
    return HTML(html_table(
        [{"dataset": n, "TV, block 1": scientific(r["shift"][:, 0].mean().item()),
          f"TV, block {block + 1}": number(r["shift"][:, block].mean().item(), 3),
          **{f"TV, {c}": number(v[:, block].mean().item(), 3) for c, v in r["shift_controls"].items()},
          "corr.": r["similarity"].mean().item(),
          **{f"corr., {c}": v.mean().item() for c, v in r["similarity_controls"].items()}}
         for n, r in records.items()]
        + ([{"dataset": "every dataset", "TV, block 1": scientific(read["per_block"][0]["mean"]),
             f"TV, block {block + 1}": plus_minus(Estimate(**read["per_block"][block]), 3),
             **{f"TV, {c}": number(e["mean"], 3) for c, e in read["controls_moved"].items()}}] if "per_block" in read else []),
        "Table 2.2 — Null controls: the attention moved from CLIP's (TV), and how attention follows similarity (corr.)",
        note=f"TV in block 1 and in block {block + 1}, where the learned prompts move it most over every dataset (the "
        "check of Fig. 1 pools them all: it holds for any prompts), for the learned prompts (pooled: mean ± 2 SE over "
        "the images) and each control. Corr.: the correlation "
        "between a token's similarity to a prompt and its attention on it (mean over blocks and images). Controls: "
        + "; ".join(f"{c}, {what}" for c, what in CONTROLS.items()) + "."))


def gains_table(page: AttentionPage) -> HTML:
    """Table 2.3: did the analysed prompts learn?"""
    return HTML(html_table(gain_rows({"prompts": page.gains}), "Table 2.3 — Did the analysed prompts learn? Their test "
                           "accuracy minus zero-shot CLIP's on the whole test split, paired over the images, mean ± 2 SE"))


def arm_tables(page: AttentionPage) -> tuple[HTML, HTML]:
    """Tables 2.4-2.5: each arm's test accuracy, and the gain over CLIP each arm keeps, both towers transplanted."""
    first = next(iter(page.arms.values()))
    return (HTML(html_table(arm_rows(page.arms, "both"), "Table 2.4 — Test accuracy (%) of each arm, both towers transplanted",
                            f"{method_label(page.method)}; mean ± std over {len(first.runs)} runs, on {first.images} test "
                            "images per dataset. CLIP is the same for every run (no spread).")),
            HTML(html_table(kept_rows(page.effects["both"]), "Table 2.5 — The gain over CLIP each arm keeps on its own, "
                            "both towers", "Points ± 2 SE (over the images and the runs); in brackets its share of the full "
                            "model's gain where that gain is significant. Interaction: full − re-weighting − prompt term + CLIP.")))


def recovered_figure(page: AttentionPage) -> Captioned | HTML:
    """Fig. 2.2: the share of the full model's gain each arm keeps, per towers transplanted (or why there is none)."""
    gain_recovered = {branch: recovered(page.arms, branch, page.excluded) for branch in BRANCHES}
    if not any(gain_recovered.values()):
        return HTML("<p>On no dataset did the prompts learn (Table 2.3): there is no gain to keep (Fig. 2.2 is left "
                    "out).</p>")
    return figure(recovered_bars(gain_recovered, {a: n for a, n in ARM_NAMES.items() if a not in ("full", "clip")}),
                  "The share of the full model's gain over CLIP that each arm keeps on its own, with the image "
                  "tower, the text tower or both transplanted (means over the runs; 100% = the full model, 0% = "
                  "CLIP), on the datasets where the prompts learned (Table 2.3); the spreads are in Tables 2.5–2.6",
                  "2.2", "eq. 12, Sec. 3.2.1")


def rule_tables(page: AttentionPage) -> list[HTML]:
    """Tables 2.6-2.9: what the rule reads under both readings of the second way, and on the two known answers."""
    tables = [HTML(html_table([{"towers": branch, **row} for branch in BRANCHES for row in effect_rows(page.effects[branch])],
                              "Table 2.6 — What the rule reads: the second way as the added term per input",
                              "Per towers transplanted; points ± 2 SE (over the images and the runs); ½ gain = (CLIP + "
                              "full) / 2; the added term alone is the prompt-term arm.")),
              HTML(html_table([{"towers": branch, **row} for branch in BRANCHES
                               for row in effect_rows(page.effects[branch], "constant-term")],
                              "Table 2.7 — What the rule reads: the second way as a term fixed across inputs",
                              "As Table 2.6, with the fixed term (the mean added term over the training images) in its "
                              "place; both: re-weighting + fixed term."))]
    for number_, (name, by) in zip(("2.8", "2.9"), page.known_effects.items()):
        tables.append(HTML(html_table(effect_rows(by), f"Table {number_} — Check: {name}, the same rule on its own runs",
                                      f"{method_label(page.known_methods[name])}; its added term: "
                                      f"{'none' if name == 'attention-bias tuning' else 'the learned biases'}.")))
    return tables
