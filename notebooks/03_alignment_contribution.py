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
# # 3. Which tokens the alignment relies on (Sec. 3.2.2; Figs. 2–3, 8–23)
#
# **The paper's claims.** With Chefer's relevancy (eqs. 13–16: per block
# $\bar A = \mathbb{E}_h[(\nabla A \odot A)^+]$, $R \leftarrow R + \bar A R$; the row of [cls] in the
# image tower, the row of EOS in the text tower), the paper compares zero-shot CLIP with the
# prompted model on every dataset and reports:
# - **text:** the category tokens' share of relevance does *not* rise with prompts; it drops,
#   while SOS and the prompt tokens gain — SOS the most;
# - **image:** the patches keep their relative relevance to [cls] (the maps change little), while
#   the vision prompts take a prominent share.
#
# This page computes the same statistics (each sample's row normalised to sum 1, then averaged)
# for zero-shot CLIP and the prompted model of every dataset, and tests both claims on them.

# %% tags=["parameters"]
profile = "mini"  # "mini": the offline mini CLIP world on a CPU; "paper": ViT-B/16 + CoOp data on a GPU
# every other value: None = the value of the profile (see mmprompts.profiles.PROFILES)
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
epochs = None
lr = None
batch_size = None
analysis_images = None
device = None
cache = None

# %%
from mmprompts.profiles import from_parameters

S = from_parameters(globals())  # checks every parameter: a wrong one stops the page here
S

# %%
from IPython.display import Markdown, display

from mmprompts import PromptedCLIP
from mmprompts.analysis import patch_heatmaps, patch_relevancy_shift, relevancy_maps, relevancy_statistics
from mmprompts.experiments import analysis_run, in_batches, test_images
from mmprompts.figures import display_images, group_bars, overlay_maps
from mmprompts.widgets import figure_png, view_selector

clip = S.load_model()
data = S.load_datasets()
zero_shot = PromptedCLIP(clip)

# %% [markdown]
# ## Dataset-level relevance per token group
# `analysis_images` test images per dataset (balanced over classes), each with the text of its
# true class.

# %%
stats, prompted = {}, {}
for name, dataset in data.items():
    prompted[name] = analysis_run(S, clip, dataset).model
    images, labels = test_images(clip, dataset, S.analysis_images)
    stats[name] = {
        label: relevancy_statistics(model, in_batches(images, labels), dataset.classnames, dataset.template)
        for label, model in (("CLIP", zero_shot), ("prompted", prompted[name]))
    }

for name, by_model in stats.items():
    # figures left open are shown under the cell, in order
    group_bars({m: r["text_groups"] for m, r in by_model.items()}, "relevance share", f"{name}: text (EOS row)")
    group_bars({m: r["image_groups"] for m, r in by_model.items()}, "relevance share", f"{name}: image ([cls] row)")

# %% [markdown]
# ## Relevancy maps of single images
# Per image, the [cls] relevance of each patch (bilinearly up-sampled, min–max) for zero-shot CLIP
# and for the prompted model. Pick the dataset and the image.

# %%
views = []
for name, dataset in data.items():
    images, labels = test_images(clip, dataset, 6)
    pictures = display_images(images, clip)
    maps = {}
    for label, model in (("CLIP", zero_shot), ("prompted", prompted[name])):
        texts = model.prompt_texts([dataset.classnames[k] for k in labels.tolist()], dataset.template)
        maps[label] = patch_heatmaps(model, relevancy_maps(model, images, texts).image, clip.image_size)
    views.append([figure_png(overlay_maps(pictures[i:i + 1], [maps["CLIP"][i:i + 1], maps["prompted"][i:i + 1]],
                                          ["CLIP relevancy", "prompted relevancy"], [dataset.classnames[labels[i]]]))
                  for i in range(len(images))])
view_selector(views, [("dataset", list(data)), ("test image", [str(i + 1) for i in range(6)])], slider=[False, True])

# %% [markdown]
# ## What this run says

# %%
lines = ["| dataset | category share (CLIP → prompted) | SOS share | prompt share | vision-prompt share | patch map change (TV) |",
         "|---|---|---|---|---|---|"]
category_drop, sos_rise, prompt_large = [], [], []
for name, by_model in stats.items():
    clip_g, prompt_g = by_model["CLIP"]["text_groups"], by_model["prompted"]["text_groups"]
    vision = by_model["prompted"]["image_groups"]["vision_prompt"]
    category_drop.append(prompt_g["category"] < clip_g["category"])
    sos_rise.append(prompt_g["sos"] > clip_g["sos"])
    prompt_large.append(vision > 1 / (1 + clip.model.visual.grid_size[0] * clip.model.visual.grid_size[1] / S.n_ctx))
    lines.append(f"| {name} | {clip_g['category']:.3f} → {prompt_g['category']:.3f} | {clip_g['sos']:.3f} → {prompt_g['sos']:.3f} | "
                 f"{clip_g['prompt'] + clip_g['template']:.3f} → {prompt_g['prompt'] + prompt_g['template']:.3f} | {vision:.3f} | "
                 f"{patch_relevancy_shift(by_model['CLIP'], by_model['prompted']):.3f} |")
display(Markdown("\n".join(lines) + "\n\n(CLIP's 'prompt share' is its template words 'a photo of a'.)"))
n = len(stats)
display(Markdown(
    f"**Text.** The category tokens lose relevance share on {sum(category_drop)} of {n} datasets and SOS gains on "
    f"{sum(sos_rise)} of {n}: this run {'supports' if sum(category_drop) > n / 2 and sum(sos_rise) > n / 2 else 'does not support'} "
    "the paper's finding that prompts shift the alignment away from the class name towards SOS and the prompts.\n\n"
    f"**Image.** The vision prompts receive more relevance than tokens of their number would get on average "
    f"(a uniform share) on {sum(prompt_large)} of {n} datasets, which "
    f"{'supports' if sum(prompt_large) > n / 2 else 'does not support'} the paper's 'prominent contribution of the prompts'; "
    "the total-variation column says how much the patch map itself moved (0: identical, 1: disjoint)."))
