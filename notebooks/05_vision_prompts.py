# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. What the vision prompts learn
#
# *The paper's Sec. 3.3.2, Figs. 5–7 and Appendix D*
#
# **What the paper says.**
# - *Attention distance (Fig. 5, top):* *"there is no significant impact on the model’s attention
#   distance before and after incorporating prompts for the input patches"* — comparing CLIP,
#   "W/O prompt" (the prompted model with the prompts' attention removed) and "W prompt".
# - *Attention entropy (Fig. 5, bottom; Fig. 7 and App. D for the [cls] token):* *"the prompts do
#   not significantly impact the attention scope"*.
# - *[cls] attention (Fig. 6, rows 1–2):* *"the vision prompts do not influence [cls] token’s
#   attention on the input patches"*.
# - *Prompt similarity (Fig. 6, row 3):* *"the learned vision prompts resemble background features
#   in relation to the attention of the [cls] token, i.e., the features that the [cls] token did
#   not pay attention to"*, so that the prompts *"act as a bridge"* to them.
#
# The paper also rotates the input images — *"to increase input diversity and showcase more
# detailed visual comparisons"* — and draws no conclusion from it; the rotation section below is
# this book's own analysis, not a claim of the paper.

# %% tags=["parameters"]
profile = "mini"  # or "paper"; every other parameter: None means the profile's value (mmprompts.profiles)
model = None
pretrained = None
checkpoint = None
data_root = None
datasets = None
shots = None
seeds = None
n_ctx = None
depths = None
prompt_counts = None
grid_datasets = None
epochs = None
lr = None
batch_size = None
analysis_images = None
intervention_images = None
device = None
processes = None
cache = None
learned = None

# %% tags=["remove-input"]
from mmprompts.page import page_header
from mmprompts.profiles import from_parameters

S = from_parameters(globals())  # checks every parameter: a wrong one stops the page here
page_header(S, "05_vision_prompts", "Sec. 3.3.2, Figs. 5–7, App. D")

# %% [markdown]
# **What this page does.** The statistics per block and head for zero-shot CLIP and the prompted
# model on the same test images, under both distance conventions (the prompts' attention counted
# at distance 0, and renormalised away); the [cls] attention maps of both models and the prompts'
# similarity maps; each claim decided against CLIP's own spread between heads or images.

# %%
import torch
from IPython.display import HTML, display

from mmprompts import PromptedCLIP
from mmprompts.analysis import (CONTROLS, attention_scope, cls_attention_maps, null_controls, prompt_patch_similarity,
                                rotate_images, rotation_agreement, scope_change)
from mmprompts.claims import (cls_map_effects, combine, decide_direction, decide_map_kept, decide_scope_unchanged, not_learned,
                              not_measured, report)
from mmprompts.claims.text import number
from mmprompts.analysis_inputs import analysis_model, balanced_test_images, in_batches
from mmprompts.figures import cls_attention_grid, display_images, rotation_maps, scope_grid
from mmprompts.mechanism import gain_rows, learned_gains
from mmprompts.page import caption, figure
from mmprompts.tables import html_table
from mmprompts.widgets import figure_png, view_selector

clip = S.load_model()
data = S.load_datasets()
zero_shot = PromptedCLIP(clip)
MAP_IMAGES = 64  # images per dataset for the maps of Fig. 6 (they are image-sized, so memory grows fast)
scope, maps, models, controls = {}, {}, {}, {}
for name, dataset in data.items():
    models[name] = analysis_model(S, clip, dataset)
    images, _ = balanced_test_images(clip, dataset, S.analysis_images)
    scope[name] = {"CLIP": attention_scope(zero_shot, in_batches(images), progress=False)["W prompt"],
                   **attention_scope(models[name], in_batches(images), progress=False)}
    shown = images[:MAP_IMAGES]
    maps[name] = {"images": shown, "CLIP": cls_attention_maps(zero_shot, shown), "prompted": cls_attention_maps(models[name], shown),
                  "similarity": prompt_patch_similarity(models[name], shown).mean(2)}
    # the null controls: the same statistics for prompts that learned nothing
    controls[name] = {c: {"scope": attention_scope(model, in_batches(images), progress=False)["W prompt"],
                          "attention": cls_attention_maps(model, shown),
                          "similarity": prompt_patch_similarity(model, shown).mean(2)}
                      for c, model in null_controls(clip, models[name], S.seeds[0]).items()}

# %% [markdown]
# ## Attention distance and entropy per head (Figs. 5 and 7)
# One mark per head and block (CLIP blue circles, W/O prompt purple triangles, W prompt orange
# crosses). Distance in pixels on the patch grid, patch queries and keys: "prompt mass at 0" counts
# the attention on [cls] and prompts as distance 0 (the convention of ViT's mean attention distance
# {cite:p}`dosovitskiy2021vit`), "renormalised" divides by the attention on patches. Pick the dataset.

# %%
views = [figure_png(scope_grid(by_variant, [("distance", "distance, px\n(mass at 0)"),
                                              ("distance_renormalized", "distance, px\n(renormalised)"),
                                              ("entropy", "entropy, nats")]))
         for by_variant in scope.values()]
display(view_selector(views, [("dataset", list(scope))], slider=[False]))
caption("Mean attention distance under both conventions and attention entropy ([cls] and patch queries) per head, "
        "for zero-shot CLIP, the prompted model without the prompts' attention (W/O prompt) and with it (W prompt)",
        "5.1", "Fig. 5")

# %%
views = [figure_png(scope_grid(by_variant, [("cls_entropy", "[cls] entropy, nats")])) for by_variant in scope.values()]
display(view_selector(views, [("dataset", list(scope))], slider=[False]))
caption("Entropy of the [cls] token's attention per head, CLIP, W/O prompt and W prompt", "5.2", "Fig. 7, App. D")

# %% [markdown]
# ## [cls] attention and prompt similarity (Fig. 6)
# Rows: where zero-shot CLIP's [cls] attends, where the prompted model's [cls] attends (mean over
# heads, patches only), and how similar each patch is to the vision prompts (1 − min–max of the
# Euclidean distance, averaged over the prompts); columns: blocks. Pick the dataset and the image.

# %%
shown = 3
views = [[figure_png(cls_attention_grid(display_images(m["images"][i:i + 1], clip)[0],
                                        {"CLIP [cls]": m["CLIP"][:, i], "prompted [cls]": m["prompted"][:, i],
                                         "prompt similarity": m["similarity"][:, i]}))
          for i in range(shown)] for m in maps.values()]
display(view_selector(views, [("dataset", list(maps)), ("image", [str(i + 1) for i in range(shown)])], slider=[False, True]))
caption("The [cls] token's attention on the patches of zero-shot CLIP (top) and of the prompted model (middle), and "
        "the vision prompts' similarity to the patches (bottom), block by block", "5.3", "Fig. 6")

# %% [markdown]
# ## Rotated inputs (this book's own analysis)
# Not a claim of the paper. If the prompts' similarity maps follow the image's content, rotating
# the image rotates them: the correlation between the map of the rotated image and the rotated
# map (last block, 16 images, 90°/180°/270°) is then near 1.

# %%
agreement = {name: rotation_agreement(models[name], m["images"][:16]).mean().item() for name, m in maps.items()}
shown_dataset = list(maps)[-1]
angles = (0, 90, 180, 270)
turned = torch.cat([rotate_images(maps[shown_dataset]["images"][:1], d) for d in angles])
display(figure(rotation_maps(display_images(turned, clip), prompt_patch_similarity(models[shown_dataset], turned).mean(2)[-1],
                             angles),
               f"One {shown_dataset} test image turned by 0°–270° and the vision prompts' similarity map of the last "
               "block over it (this book's analysis)", "5.4"))
HTML(html_table([{"dataset": d, "agreement under rotation (corr.)": a} for d, a in agreement.items()],
                "Table 5.1 — Do the similarity maps turn with the image? (this book's analysis)"))

# %% [markdown]
# ## Per dataset, against CLIP and against prompts that learned nothing
# How far each variant's attention statistics are from CLIP's, in units of CLIP's own spread between
# heads (the scale of Fig. 5's dots), and how much the prompted model's [cls] maps stay CLIP's; the
# same for the three null controls.

# %%
statistics = {"scope.distance": ("distance", "the attention distance with the prompts (W prompt)"),
              "scope.distance-renormalised": ("distance_renormalized", "the attention distance (renormalised)"),
              "scope.entropy": ("entropy", "the attention entropy"), "scope.cls-entropy": ("cls_entropy", "the [cls] entropy")}
COLUMN = {"distance": "distance", "distance_renormalized": "distance renormalised", "entropy": "entropy",
          "cls_entropy": "[cls] entropy"}
ratios = {claim: {v: {d: scope_change(s[v][key], s["CLIP"][key]) for d, s in scope.items()} for v in ("W/O prompt", "W prompt")}
          for claim, (key, _) in statistics.items()}
control_ratios = {claim: {c: {d: scope_change(controls[d][c]["scope"][key], s["CLIP"][key]) for d, s in scope.items()}
                          for c in CONTROLS} for claim, (key, _) in statistics.items()}
HTML(html_table([{"dataset": d, "prompts' attention": v, **{COLUMN[key]: number(ratios[claim][v][d], 2)
                                                             for claim, (key, _) in statistics.items()}}
                 for d in scope for v in ("W/O prompt", "W prompt")],
                "Table 5.2 — How far the attention statistics move from CLIP's, in units of CLIP's head-to-head spread",
                note="Mean |difference from CLIP| over blocks and heads. Distance: with the prompts' mass at distance 0; "
                "renormalised: over the input tokens only. W/O and W: without and with the prompts' attention."))

# %%
effects = {d: cls_map_effects(m["CLIP"], m["prompted"], m["similarity"]) for d, m in maps.items()}
versus = {c: {d: cls_map_effects(m["CLIP"], m["prompted"], m["similarity"], controls[d][c]["similarity"])
              for d, m in maps.items()} for c in CONTROLS}
own = {c: {d: cls_map_effects(m["CLIP"], controls[d][c]["attention"], controls[d][c]["similarity"])
           for d, m in maps.items()} for c in CONTROLS}
HTML(html_table([{"dataset": d, "prompts": "learned", "[cls] maps kept": number(effects[d]["kept"].mean, 2),
                  "similarity ↔ CLIP [cls]": str(effects[d]["background"])}
                 for d in maps]
                + [{"dataset": d, "prompts": c, "[cls] maps kept": number(own[c][d]["kept"].mean, 2),
                    "similarity ↔ CLIP [cls]": str(own[c][d]["background"]), "learned − this": str(versus[c][d]["background"]),
                    **{COLUMN[key]: number(control_ratios[claim][c][d], 2) for claim, (key, _) in statistics.items()}}
                   for d in maps for c in CONTROLS],
                "Table 5.3 — The learned prompts and the null controls: the [cls] maps, and the prompts against CLIP's [cls] attention",
                note="Controls: " + "; ".join(f"{c}, {what}" for c, what in CONTROLS.items()) + ". [cls] maps kept: their "
                "normalised similarity to CLIP's. Similarity ↔ CLIP [cls]: the correlation of the prompts' similarity map "
                "with CLIP's [cls] attention (mean ± 2 SE); learned − this: the learned prompts' correlation minus the "
                "control's. Distance to [cls] entropy: each control's ratios as in Table 5.2, with the prompts' attention (W prompt)."))

# %% [markdown]
# ## What this run says
# The paper does not say where the prompt keys sit on the patch grid, so the distance *with* the
# prompts (W prompt) is decided under two conventions — their attention counted at distance 0, and
# spread like the query's attention over the patches (the renormalised distance) — and only where
# both give the same outcome. The distance among the patches alone (W/O prompt) needs no convention.
# Claims about learned prompts are not testable where they did not learn.

# %%
gains = learned_gains(S, clip, data)
excluded = not_learned(gains)
HTML(html_table(gain_rows({"prompts": gains}), "Table 5.4 — Did the prompts learn? Test accuracy minus zero-shot CLIP's "
                "on the whole test split, paired over the images, mean ± 2 SE"))

# %%
# W/O prompt's distance is the renormalised one by construction (the prompts' columns dropped, rows
# renormalised), so the renormalised claim reads W/O prompt only; W prompt's reads both conventions.
CONVENTIONS = {"prompt keys at distance 0": {"W prompt": ratios["scope.distance"]["W prompt"]},
               "prompt keys spread like the patches": {"W prompt": ratios["scope.distance-renormalised"]["W prompt"]}}
scope_inputs = {"scope.distance": ({"W prompt": ratios["scope.distance"]["W prompt"]}, CONVENTIONS),
                "scope.distance-renormalised": ({"W/O prompt": ratios["scope.distance-renormalised"]["W/O prompt"]}, None),
                "scope.entropy": (ratios["scope.entropy"], None), "scope.cls-entropy": (ratios["scope.cls-entropy"], None)}
CONVENTION_CONTROLS = {"prompt keys at distance 0": control_ratios["scope.distance"],
                       "prompt keys spread like the patches": control_ratios["scope.distance-renormalised"]}
verdicts = [decide_scope_unchanged(claim, scope_inputs[claim][0], what, controls=control_ratios[claim], excluded=excluded,
                                   conventions=scope_inputs[claim][1],
                                   convention_controls=CONVENTION_CONTROLS if scope_inputs[claim][1] else None)
            for claim, (_, what) in statistics.items()]
verdicts.append(decide_map_kept("cls-attention.unchanged", {d: e["kept"] for d, e in effects.items()},
                                "the prompted model's [cls] attention",
                                controls={c: {d: e["kept"] for d, e in by.items()} for c, by in own.items()},
                                excluded=excluded))
verdicts.append(decide_direction("similarity.background", {d: e["background"] for d, e in effects.items()}, -1,
                                 "the correlation of the prompts' similarity with CLIP's [cls] attention",
                                 controls={c: {d: e["background"] for d, e in by.items()} for c, by in versus.items()},
                                 excluded=excluded))
by_id = {v.claim.id: v for v in verdicts}
verdicts.append(combine("scope.feature-extraction", {by_id[c].claim.label: by_id[c] for c in (
    "scope.distance-renormalised", "scope.entropy", "scope.cls-entropy", "cls-attention.unchanged")}))
verdicts.append(not_measured("similarity.bridge"))
report("05_vision_prompts", verdicts, scope=S.scope)
