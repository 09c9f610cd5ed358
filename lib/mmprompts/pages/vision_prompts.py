"""Page 5 (notebooks/05_vision_prompts.py): the vision prompts' effect on the attention scope (distance, entropy),
on the [cls] attention maps, and the prompts' similarity maps, against CLIP and null controls (Sec. 3.3.2, App. D)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from IPython.display import HTML

from ..analysis import (CONTROLS, POSITIVE_CONTROL, attention_scope, cls_attention_maps, null_controls, prompt_patch_similarity,
                        rotate_images, rotation_agreement, scope_change)
from ..analysis_inputs import analysis_model, balanced_test_images, in_batches, positive_control_models, positive_control_spec
from ..claims import (Estimate, Verdict, cls_map_effects, combine, decide_direction, decide_map_kept,
                      decide_scope_unchanged, maps_kept, not_learned, not_measured)
from ..claims.text import number
from ..experiments import RunSpec
from ..figures import cls_attention_grid, display_images, rotation_maps, scope_grid
from ..gains import gain_rows, learned_gains
from ..models import LoadedCLIP
from ..page import Captioned, caption, figure
from ..profiles import Settings
from ..prompted import PromptedCLIP
from ..tables import html_table
from ..widgets import figure_image, view_selector
from .common import analysis_runs

__all__ = ["NOTEBOOK", "SCOPE_STATISTICS", "VisionPromptsPage", "cls_map_viewer", "cls_entropy_viewer", "controls_table",
           "gains_table", "measure", "rotation_figure", "rotation_table", "runs", "scope_table", "scope_viewer", "verdicts"]

NOTEBOOK = "05_vision_prompts"
MAP_IMAGES = 64  # images per dataset for the maps of Fig. 6 (they are image-sized, so memory grows fast)
SHOWN_IMAGES = 3  # images per dataset in the map viewer (Fig. 5.3)
ROTATION_IMAGES = 16  # images per dataset whose similarity maps are rotated (Table 5.1)
ANGLES = (0, 90, 180, 270)
# The scope claims: the statistic each reads (a key of `analysis.attention_scope`) and what it is, in words.
SCOPE_STATISTICS = {"scope.distance": ("distance", "the attention distance with the prompts (W prompt)"),
                    "scope.distance-renormalised": ("distance_renormalized", "the attention distance (renormalised)"),
                    "scope.entropy": ("entropy", "the attention entropy"),
                    "scope.cls-entropy": ("cls_entropy", "the [cls] entropy")}
_COLUMN = {"distance": "distance", "distance_renormalized": "distance renormalised", "entropy": "entropy",
           "cls_entropy": "[cls] entropy"}
_VARIANTS = ("W/O prompt", "W prompt")


def runs(settings: Settings, clip: LoadedCLIP) -> list[RunSpec]:
    """The analysis model of every dataset, the zero-shot runs its gains are paired with, and the positive control
    of the claims of no change (bias tuning: Table 1's runs, so already trained for page 6)."""
    return analysis_runs(settings, clip) + [positive_control_spec(settings, clip, name) for name in settings.datasets]


@dataclass
class VisionPromptsPage:
    """What page 5 measures."""

    settings: Settings
    clip: LoadedCLIP
    models: dict[str, PromptedCLIP]  # the analysis model per dataset
    scope: dict[str, dict[str, dict[str, torch.Tensor]]]  # per dataset: CLIP's, W/O and W prompt's scope statistics
    maps: dict[str, dict[str, torch.Tensor]]  # per dataset: images, CLIP's and the prompted [cls] maps, prompt similarity
    controls: dict[str, dict[str, dict[str, torch.Tensor]]]  # per dataset and null control: scope, attention, similarity
    ratios: dict[str, dict[str, dict[str, float]]]  # {claim: {variant: {dataset: scope_change from CLIP}}}
    control_ratios: dict[str, dict[str, dict[str, float]]]  # {claim: {control: {dataset: scope_change from CLIP}}}
    effects: dict[str, dict[str, Estimate]]  # per dataset: cls_map_effects of the learned prompts
    versus: dict[str, dict[str, dict[str, Estimate]]]  # {control: {dataset: learned against the control}}
    own: dict[str, dict[str, dict[str, Estimate]]]  # {control: {dataset: the control's own effects}}
    positive_ratios: dict[str, dict[str, float]]  # {claim: {dataset: the positive control's scope_change from CLIP}}
    positive_kept: dict[str, Estimate]  # per dataset: how much the positive control's [cls] maps keep CLIP's
    agreement: dict[str, float]  # per dataset: the similarity maps' agreement under rotation
    gains: dict[str, Estimate]
    excluded: dict[str, str]


def measure(settings: Settings, clip: LoadedCLIP) -> VisionPromptsPage:
    """The attention scope on `settings.analysis_images` balanced test images per dataset, the [cls] maps and the
    prompts' similarity maps on the first `MAP_IMAGES`, the same for the null controls; their ratios and effects."""
    data = settings.load_datasets()
    zero_shot = PromptedCLIP(clip)
    scope, maps, models, controls, positive = {}, {}, {}, {}, {}
    positive_models = positive_control_models(settings, clip, data)
    for name, dataset in data.items():
        models[name] = analysis_model(settings, clip, dataset)
        images, _ = balanced_test_images(clip, dataset, settings.analysis_images)
        scope[name] = {"CLIP": attention_scope(zero_shot, in_batches(images), progress=False)["W prompt"],
                       **attention_scope(models[name], in_batches(images), progress=False)}
        shown = images[:MAP_IMAGES]
        maps[name] = {"images": shown, "CLIP": cls_attention_maps(zero_shot, shown),
                      "prompted": cls_attention_maps(models[name], shown),
                      "similarity": prompt_patch_similarity(models[name], shown).mean(2)}
        controls[name] = {c: {"scope": attention_scope(model, in_batches(images), progress=False)["W prompt"],
                              "attention": cls_attention_maps(model, shown),
                              "similarity": prompt_patch_similarity(model, shown).mean(2)}
                          for c, model in null_controls(clip, models[name], settings.seeds[0]).items()}
        # the same analyses on the positive control (no prompts: its "W prompt" is its only attention)
        positive[name] = {"scope": attention_scope(positive_models[name], in_batches(images), progress=False)["W prompt"],
                          "attention": cls_attention_maps(positive_models[name], shown)}
    agreement = {name: rotation_agreement(models[name], m["images"][:ROTATION_IMAGES]).mean().item()
                 for name, m in maps.items()}
    ratios = {claim: {v: {d: scope_change(s[v][key], s["CLIP"][key]) for d, s in scope.items()} for v in _VARIANTS}
              for claim, (key, _) in SCOPE_STATISTICS.items()}
    control_ratios = {claim: {c: {d: scope_change(controls[d][c]["scope"][key], s["CLIP"][key]) for d, s in scope.items()}
                              for c in CONTROLS} for claim, (key, _) in SCOPE_STATISTICS.items()}
    effects = {d: cls_map_effects(m["CLIP"], m["prompted"], m["similarity"]) for d, m in maps.items()}
    versus = {c: {d: cls_map_effects(m["CLIP"], m["prompted"], m["similarity"], controls[d][c]["similarity"])
                  for d, m in maps.items()} for c in CONTROLS}
    own = {c: {d: cls_map_effects(m["CLIP"], controls[d][c]["attention"], controls[d][c]["similarity"])
               for d, m in maps.items()} for c in CONTROLS}
    positive_ratios = {claim: {d: scope_change(positive[d]["scope"][key], s["CLIP"][key]) for d, s in scope.items()}
                       for claim, (key, _) in SCOPE_STATISTICS.items()}
    positive_kept = {d: maps_kept(m["CLIP"], positive[d]["attention"]) for d, m in maps.items()}
    gains = learned_gains(settings, clip, data)
    return VisionPromptsPage(settings, clip, models, scope, maps, controls, ratios, control_ratios, effects, versus, own,
                             positive_ratios, positive_kept, agreement, gains, not_learned(gains))


def verdicts(page: VisionPromptsPage) -> list[Verdict]:
    """The scope claims (the distance with the prompts under both conventions for where the prompt keys sit), the
    [cls] maps, the similarity to the background, their combination, and the bridge (not measured)."""
    ratios, excluded = page.ratios, page.excluded
    # W/O prompt's distance is the renormalised one by construction (the prompts' columns dropped, rows
    # renormalised), so the renormalised claim reads W/O prompt only; W prompt's reads both conventions.
    conventions = {"prompt keys at distance 0": {"W prompt": ratios["scope.distance"]["W prompt"]},
                   "prompt keys spread like the patches": {"W prompt": ratios["scope.distance-renormalised"]["W prompt"]}}
    scope_inputs = {"scope.distance": ({"W prompt": ratios["scope.distance"]["W prompt"]}, conventions),
                    "scope.distance-renormalised": ({"W/O prompt": ratios["scope.distance-renormalised"]["W/O prompt"]}, None),
                    "scope.entropy": (ratios["scope.entropy"], None), "scope.cls-entropy": (ratios["scope.cls-entropy"], None)}
    # each convention judges the controls under that convention
    convention_controls = {"prompt keys at distance 0": page.control_ratios["scope.distance"],
                           "prompt keys spread like the patches": page.control_ratios["scope.distance-renormalised"]}
    # the positive control has no prompt keys, so its two distances differ only in how the [cls] key is counted
    convention_positive = {"prompt keys at distance 0": page.positive_ratios["scope.distance"],
                           "prompt keys spread like the patches": page.positive_ratios["scope.distance-renormalised"]}
    found = [decide_scope_unchanged(claim, scope_inputs[claim][0], what, controls=page.control_ratios[claim],
                                    excluded=excluded, conventions=scope_inputs[claim][1],
                                    convention_controls=convention_controls if scope_inputs[claim][1] else None,
                                    positive=page.positive_ratios[claim],
                                    convention_positive=convention_positive if scope_inputs[claim][1] else None)
             for claim, (_, what) in SCOPE_STATISTICS.items()]
    found.append(decide_map_kept("cls-attention.unchanged", {d: e["kept"] for d, e in page.effects.items()},
                                 "the prompted model's [cls] attention",
                                 controls={c: {d: e["kept"] for d, e in by.items()} for c, by in page.own.items()},
                                 excluded=excluded, positive=page.positive_kept))
    found.append(decide_direction("similarity.background", {d: e["background"] for d, e in page.effects.items()}, -1,
                                  "the correlation of the prompts' similarity with CLIP's [cls] attention",
                                  controls={c: {d: e["background"] for d, e in by.items()} for c, by in page.versus.items()},
                                  excluded=excluded))
    by_id = {v.claim.id: v for v in found}
    found.append(combine("scope.feature-extraction", {by_id[c].claim.label: by_id[c] for c in (
        "scope.distance-renormalised", "scope.entropy", "scope.cls-entropy", "cls-attention.unchanged")}))
    found.append(not_measured("similarity.bridge"))
    return found


def scope_viewer(page: VisionPromptsPage) -> tuple:
    """Fig. 5.1: a viewer of the attention distance (both conventions) and entropy per head, with its caption."""
    views = [figure_image(scope_grid(by_variant, [("distance", "distance, px\n(mass at 0)"),
                                                  ("distance_renormalized", "distance, px\n(renormalised)"),
                                                  ("entropy", "entropy, nats")]))
             for by_variant in page.scope.values()]
    return (view_selector(views, [("dataset", list(page.scope))], slider=[False]),
            caption("Mean attention distance under both conventions and attention entropy ([cls] and patch queries) per "
                    "head, for zero-shot CLIP, the prompted model without the prompts' attention (W/O prompt) and with it "
                    "(W prompt)", "5.1", "Fig. 5"))


def cls_entropy_viewer(page: VisionPromptsPage) -> tuple:
    """Fig. 5.2: a viewer of the [cls] token's attention entropy per head, with its caption."""
    views = [figure_image(scope_grid(by_variant, [("cls_entropy", "[cls] entropy, nats")]))
             for by_variant in page.scope.values()]
    return (view_selector(views, [("dataset", list(page.scope))], slider=[False]),
            caption("Entropy of the [cls] token's attention per head, CLIP, W/O prompt and W prompt", "5.2", "Fig. 7, App. D"))


def cls_map_viewer(page: VisionPromptsPage) -> tuple:
    """Fig. 5.3: a viewer of the [cls] attention maps of CLIP and the prompted model and the prompts' similarity
    maps, block by block, with its caption."""
    views = [[figure_image(cls_attention_grid(display_images(m["images"][i:i + 1], page.clip)[0],
                                            {"CLIP [cls]": m["CLIP"][:, i], "prompted [cls]": m["prompted"][:, i],
                                             "prompt similarity": m["similarity"][:, i]}))
              for i in range(SHOWN_IMAGES)] for m in page.maps.values()]
    return (view_selector(views, [("dataset", list(page.maps)), ("image", [str(i + 1) for i in range(SHOWN_IMAGES)])],
                          slider=[False, True]),
            caption("The [cls] token's attention on the patches of zero-shot CLIP (top) and of the prompted model "
                    "(middle), and the vision prompts' similarity to the patches (bottom), block by block", "5.3", "Fig. 6"))


def rotation_figure(page: VisionPromptsPage) -> Captioned:
    """Fig. 5.4: one test image of the last dataset turned, with the last block's prompt similarity map over it."""
    shown_dataset = list(page.maps)[-1]
    turned = torch.cat([rotate_images(page.maps[shown_dataset]["images"][:1], d) for d in ANGLES])
    return figure(rotation_maps(display_images(turned, page.clip),
                                prompt_patch_similarity(page.models[shown_dataset], turned).mean(2)[-1], ANGLES),
                  f"One {shown_dataset} test image turned by 0°–270° and the vision prompts' similarity map of the last "
                  "block over it (this book's analysis)", "5.4")


def rotation_table(page: VisionPromptsPage) -> HTML:
    """Table 5.1: do the similarity maps turn with the image?"""
    return HTML(html_table([{"dataset": d, "agreement under rotation (corr.)": a} for d, a in page.agreement.items()],
                           "Table 5.1 — Do the similarity maps turn with the image? (this book's analysis)"))


def scope_table(page: VisionPromptsPage) -> HTML:
    """Table 5.2: how far the attention statistics move from CLIP's, in units of CLIP's head-to-head spread."""
    return HTML(html_table([{"dataset": d, "prompts' attention": v,
                             **{_COLUMN[key]: number(page.ratios[claim][v][d], 2)
                                for claim, (key, _) in SCOPE_STATISTICS.items()}}
                            for d in page.scope for v in _VARIANTS],
                           "Table 5.2 — How far the attention statistics move from CLIP's, in units of CLIP's head-to-head "
                           "spread",
                           note="Mean |difference from CLIP| over blocks and heads. Distance: with the prompts' mass at "
                           "distance 0; renormalised: over the input tokens only. W/O and W: without and with the prompts' "
                           "attention."))


def controls_table(page: VisionPromptsPage) -> HTML:
    """Table 5.3: the learned prompts, the null controls and the positive control, their [cls] maps and their similarity
    to CLIP's [cls]."""
    effects, own, versus = page.effects, page.own, page.versus
    return HTML(html_table(
        [{"dataset": d, "prompts": "learned", "[cls] maps kept": number(effects[d]["kept"].mean, 2),
          "similarity ↔ CLIP [cls]": str(effects[d]["background"]), "learned − this": "–",
          **{_COLUMN[key]: number(page.ratios[claim]["W prompt"][d], 2) for claim, (key, _) in SCOPE_STATISTICS.items()}}
         for d in page.maps]
        + [{"dataset": d, "prompts": c, "[cls] maps kept": number(own[c][d]["kept"].mean, 2),
            "similarity ↔ CLIP [cls]": str(own[c][d]["background"]), "learned − this": str(versus[c][d]["background"]),
            **{_COLUMN[key]: number(page.control_ratios[claim][c][d], 2) for claim, (key, _) in SCOPE_STATISTICS.items()}}
           for d in page.maps for c in CONTROLS]
        + [{"dataset": d, "prompts": "bias tuning (positive control)", "[cls] maps kept": number(page.positive_kept[d].mean, 2),
            "similarity ↔ CLIP [cls]": "–", "learned − this": "–",
            **{_COLUMN[key]: number(page.positive_ratios[claim][d], 2) for claim, (key, _) in SCOPE_STATISTICS.items()}}
           for d in page.maps],
        "Table 5.3 — The learned prompts, the null controls and the positive control: the [cls] maps, and the prompts "
        "against CLIP's [cls] attention",
        note="Controls: " + "; ".join(f"{c}, {what}" for c, what in CONTROLS.items()) + f"; positive control, "
        f"{POSITIVE_CONTROL} (no prompts, so no similarity map). [cls] maps kept: their "
        "normalised similarity to CLIP's. Similarity ↔ CLIP [cls]: the correlation of the prompts' similarity map "
        "with CLIP's [cls] attention (mean ± 2 SE); learned − this: the learned prompts' correlation minus the "
        "control's (– on the learned prompts' own rows). Distance to [cls] entropy: the ratios of Table 5.2 with the "
        "prompts' attention (W prompt), the learned prompts' repeated from it."))


def gains_table(page: VisionPromptsPage) -> HTML:
    """Table 5.4: did the prompts learn?"""
    return HTML(html_table(gain_rows({"prompts": page.gains}), "Table 5.4 — Did the prompts learn? Test accuracy minus "
                           "zero-shot CLIP's on the whole test split, paired over the images, mean ± 2 SE"))
