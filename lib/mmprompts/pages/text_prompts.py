"""Page 4 (notebooks/04_text_prompts.py): how the EOS query splits its attention over SOS, the prefix (CLIP's
template words or the learned prompts), the class name and the period, against CLIP and null controls (Sec. 3.3.1)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from IPython.display import HTML

from ..analysis import CONTROLS, POSITIVE_CONTROL, TEXT_GROUPS, VISION_GROUPS, null_controls, text_group_attention, token_group_attention
from ..analysis_inputs import analysis_model, balanced_test_images, in_batches, positive_control_models, positive_control_spec
from ..claims import (SAME_SHARE, Estimate, Verdict, decide_direction, decide_eos_focus_on_sos, decide_equal,
                      given_premises, not_learned, not_measured, text_attention_effects)
from ..claims.text import number
from ..experiments import RunSpec
from ..figures import group_attention_grid
from ..gains import gain_rows, learned_gains
from ..models import LoadedCLIP
from ..page import caption
from ..paper import CLIP_TEMPLATE
from ..profiles import Settings
from ..prompted import PromptedCLIP
from ..tables import html_table
from ..widgets import figure_image, view_selector
from .common import analysis_runs

__all__ = ["NOTEBOOK", "TextPromptsPage", "attention_viewer", "controls_table", "gains_table", "measure", "premise_table",
           "runs", "shares_table", "verdicts"]

NOTEBOOK = "04_text_prompts"


def runs(settings: Settings, clip: LoadedCLIP) -> list[RunSpec]:
    """The analysis model of every dataset, the zero-shot runs its gains are paired with, and the positive control
    of the claim of no change (bias tuning: Table 1's runs, so already trained for page 6)."""
    return analysis_runs(settings, clip) + [positive_control_spec(settings, clip, name) for name in settings.datasets]


@dataclass
class TextPromptsPage:
    """What page 4 measures."""

    settings: Settings
    shares: dict[str, dict[str, dict[str, torch.Tensor]]]  # per dataset and model: token_group_attention
    effects: dict[str, dict[str, Estimate]]  # per dataset: the prompted model's EOS shares against CLIP's
    versus: dict[str, dict[str, dict[str, Estimate]]]  # {control: {dataset: prompted against the control}}
    own: dict[str, dict[str, dict[str, Estimate]]]  # {control: {dataset: the control against CLIP}}
    positive: dict[str, dict[str, Estimate]]  # per dataset: the positive control's EOS shares against CLIP's
    gains: dict[str, Estimate]
    excluded: dict[str, str]

    @property
    def sos_per_block(self) -> dict[str, torch.Tensor]:
        """Per dataset: zero-shot CLIP's EOS attention on SOS, [blocks, heads] (the SOS claims' premise)."""
        return {d: by["CLIP"]["text"][..., TEXT_GROUPS.index("sos")] for d, by in self.shares.items()}


def measure(settings: Settings, clip: LoadedCLIP) -> TextPromptsPage:
    """The attention shares of CLIP and the analysis model on `settings.analysis_images` balanced test images per
    dataset, the null controls' text shares, the paired effects and the prompts' gains."""
    data = settings.load_datasets()
    zero_shot = PromptedCLIP(clip)
    shares, control_text, positive_text = {}, {}, {}
    positive_models = positive_control_models(settings, clip, data)
    for name, dataset in data.items():
        prompted = analysis_model(settings, clip, dataset)
        images, _ = balanced_test_images(clip, dataset, settings.analysis_images)
        shares[name] = {label: token_group_attention(model, in_batches(images), dataset.classnames, CLIP_TEMPLATE,
                                                     progress=False)
                        for label, model in (("CLIP", zero_shot), ("prompted", prompted))}
        control_text[name] = {c: text_group_attention(model, dataset.classnames, CLIP_TEMPLATE)
                              for c, model in null_controls(clip, prompted, settings.seeds[0]).items()}
        # the positive control has no text prompts: it reads CLIP's template, as CLIP does
        positive_text[name] = text_group_attention(positive_models[name], dataset.classnames, CLIP_TEMPLATE)
    effects = {d: text_attention_effects(by["CLIP"]["text"], by["prompted"]["text"], TEXT_GROUPS) for d, by in shares.items()}
    versus = {c: {d: text_attention_effects(control_text[d][c], by["prompted"]["text"], TEXT_GROUPS)
                  for d, by in shares.items()} for c in CONTROLS}
    own = {c: {d: text_attention_effects(by["CLIP"]["text"], control_text[d][c], TEXT_GROUPS) for d, by in shares.items()}
           for c in CONTROLS}
    positive = {d: text_attention_effects(by["CLIP"]["text"], positive_text[d], TEXT_GROUPS) for d, by in shares.items()}
    gains = learned_gains(settings, clip, data)
    return TextPromptsPage(settings, shares, effects, versus, own, positive, gains, not_learned(gains))


def verdicts(page: TextPromptsPage) -> list[Verdict]:
    """The premise (CLIP's EOS attends mostly to SOS) first, then the claims that rest on it."""
    effects, excluded = page.effects, page.excluded

    def controls_of(key: str) -> dict[str, dict[str, Estimate]]:
        return {c: {d: e[key] for d, e in by.items()} for c, by in page.versus.items()}

    premise = decide_eos_focus_on_sos({d: v.tolist() for d, v in page.sos_per_block.items()},
                                      stand_in=not page.settings.paper_model)
    return given_premises([
        premise,
        decide_direction("text-attention.sos-decreases", {d: e["sos"] for d, e in effects.items()}, -1,
                         "EOS attention on SOS", controls_of("sos"), excluded),
        decide_direction("text-attention.prompts-increase", {d: e["prefix"] for d, e in effects.items()}, +1,
                         "EOS attention on the learned prompts against CLIP's on 'a photo of a'", controls_of("prefix"),
                         excluded),
        decide_equal("text-attention.category-same", {d: e["category"] for d, e in effects.items()},
                     {d: SAME_SHARE * e["category_level"].mean for d, e in effects.items()},
                     "EOS attention on the class name",
                     controls={c: {d: e["category"] for d, e in by.items()} for c, by in page.own.items()},
                     excluded=excluded, positive={d: e["category"] for d, e in page.positive.items()}),
        not_measured("text-attention.sos-merely-bias"),
        not_measured("text-attention.prompts-like-sos"),
    ])


def attention_viewer(page: TextPromptsPage) -> tuple:
    """Fig. 4.1: a viewer of EOS's attention per block and head on the token groups, CLIP and prompted, with its caption."""
    views = [figure_image(group_attention_grid({m: by[m]["text"] for m in ("CLIP", "prompted")}, TEXT_GROUPS, "EOS"))
             for by in page.shares.values()]
    return (view_selector(views, [("dataset", list(page.shares))], slider=[False]),
            caption("EOS attention per block and head (one bar each) on SOS, the learned prompts (prompted) or “a photo of "
                    "a” (CLIP), the class name and the period; top: zero-shot CLIP, bottom: the prompted model", "4.1",
                    "Fig. 4"))


def _mean_share(tensor: torch.Tensor, groups: tuple[str, ...], *names: str) -> float:
    """The attention share on the groups `names`, summed, mean over blocks and heads."""
    return sum(tensor[..., groups.index(n)].mean().item() for n in names)


def shares_table(page: TextPromptsPage) -> HTML:
    """Table 4.1: the EOS attention shares, CLIP → prompted."""
    def change(by: dict, *names: str) -> str:
        return (f"{_mean_share(by['CLIP']['text'], TEXT_GROUPS, *names):.3f} → "
                f"{_mean_share(by['prompted']['text'], TEXT_GROUPS, *names):.3f}")

    return HTML(html_table([{"dataset": d, "→ SOS": change(by, "sos"), "→ prefix": change(by, "prompt", "template"),
                             "→ class name": change(by, "category"),
                             "[cls] → vision prompts": _mean_share(by["prompted"]["vision"], VISION_GROUPS, "vision_prompt")}
                            for d, by in page.shares.items()],
                           "Table 4.1 — EOS attention shares, CLIP → prompted (means over blocks and heads)",
                           note="Prefix: 'a photo of a' for CLIP, the learned prompts for the prompted model. The last "
                           "column: the prompted [cls] query's share on the vision prompts."))


def controls_table(page: TextPromptsPage) -> HTML:
    """Table 4.2: the prompted model's EOS shares minus each null control's, and the positive control's own change."""
    return HTML(html_table([{"dataset": d, "control": c, "Δ SOS": str(v[d]["sos"]), "Δ prefix": str(v[d]["prefix"]),
                             "Δ class name": str(v[d]["category"]),
                             "control's Δ class name from CLIP": str(page.own[c][d]["category"])}
                            for d in page.shares for c, v in page.versus.items()]
                           + [{"dataset": d, "control": "bias tuning (positive control)", "Δ SOS": "–", "Δ prefix": "–",
                               "Δ class name": "–", "control's Δ class name from CLIP": str(e["category"])}
                              for d, e in page.positive.items()],
                           "Table 4.2 — Null controls: the prompted model's EOS attention shares minus each control's "
                           "(mean ± 2 SE); the positive control's own change",
                           note="Paired over the block × head cells. Controls: "
                           + "; ".join(f"{c}, {what}" for c, what in CONTROLS.items())
                           + f"; positive control, {POSITIVE_CONTROL} (it reads CLIP's template, so only its class-name "
                           "share is comparable). The last column: each control's own change of the class name's share "
                           "from CLIP's."))


def premise_table(page: TextPromptsPage) -> HTML:
    """Table 4.3: the premise, zero-shot CLIP's EOS attention on SOS per block."""
    return HTML(html_table([{"dataset": d, **{f"block {b + 1}": number(v[b].mean().item(), 2) for b in range(len(v))}}
                            for d, v in page.sos_per_block.items()],
                           "Table 4.3 — The premise: zero-shot CLIP's EOS attention on SOS, per block",
                           note="Mean over heads and the class prompts; the paper's premise is above 0.5 in each block."))


def gains_table(page: TextPromptsPage) -> HTML:
    """Table 4.4: did the prompts learn?"""
    return HTML(html_table(gain_rows({"prompts": page.gains}), "Table 4.4 — Did the prompts learn? Test accuracy minus "
                           "zero-shot CLIP's on the whole test split, paired over the images, mean ± 2 SE"))
