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
# # 1. Zero-shot CLIP: the setting (Sec. 2)
#
# **The paper's setting.** CLIP classifies an image by comparing its [cls] feature $f$ with the
# EOS features $g_k$ of one sentence per class, "a photo of a {class}.":
# $p(y=k \mid x) = \exp(\mathrm{sim}(f, g_k)\,\tau) / \sum_i \exp(\mathrm{sim}(f, g_i)\,\tau)$ (eq. 9).
# Without any tuning this works well where the class names mean something to the model and the
# images look like its pretraining data, and badly elsewhere (EuroSAT: 48.4%, FGVC Aircraft: 24.9%).
# Everything later in the book asks what prompts change on top of this model.
#
# This page computes eq. 9 for every dataset of the chosen profile and compares the zero-shot
# accuracy with the paper's CLIP column.

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
import torch
from IPython.display import Markdown, display

import matplotlib.pyplot as plt

from mmprompts import PromptedCLIP
from mmprompts.experiments import RunSpec, run_all, test_images
from mmprompts.figures import display_images
from mmprompts.tables import to_markdown, zero_shot_table
from mmprompts.train import class_text_features
from mmprompts.widgets import figure_png, view_selector

clip = S.load_model()
data = S.load_datasets()
print(f"model {clip.identity}; datasets: " + ", ".join(f"{d} ({len(v.classnames)} classes, {len(v.test)} test)" for d, v in data.items()))

# %% [markdown]
# ## Zero-shot accuracy
# Each dataset's own template (CoOp's), the test split, top-1 accuracy. The run cache keeps the
# result, so other pages reuse it.

# %%
accuracies = run_all([RunSpec(d, "zeroshot") for d in S.datasets], clip, S)
zero_shot = zero_shot_table(accuracies, S.datasets)
display(Markdown(to_markdown(zero_shot, {"zeroshot": "zero-shot accuracy (%)"}, "Zero-shot CLIP (paper: Table 1, CLIP column)")))

# %% [markdown]
# ## Eq. 9 on a few test images
# The class probabilities the model assigns, for a few test images of each dataset (pick the
# dataset and the image; the views were computed when the page was built).

# %%
zero_shot_model = PromptedCLIP(clip)
views = []
for name, dataset in data.items():
    images, labels = test_images(clip, dataset, 6)
    with torch.no_grad():
        text = class_text_features(zero_shot_model, dataset.classnames, dataset.template)
        probs = zero_shot_model.logits(zero_shot_model.encode_image(images), text).softmax(-1)
    pictures = display_images(images, clip)
    row = []
    for i in range(len(images)):
        top = probs[i].topk(min(5, len(dataset.classnames)))
        fig, (left, right) = plt.subplots(1, 2, figsize=(5.6, 2.0), gridspec_kw={"width_ratios": [1, 2]})
        left.imshow(pictures[i], interpolation="nearest")
        left.set_axis_off()
        left.set_title(f"true: {dataset.classnames[labels[i]]}", fontsize=8)
        names = [dataset.classnames[k] for k in top.indices.tolist()][::-1]
        right.barh(names, top.values.tolist()[::-1], color=["C2" if n == dataset.classnames[labels[i]] else "C0" for n in names])
        right.set_xlim(0, 1)
        right.tick_params(labelsize=7)
        right.set_xlabel("p(class | image), eq. 9", fontsize=8)
        fig.tight_layout()
        row.append(figure_png(fig))
    views.append(row)
view_selector(views, [("dataset", list(data)), ("test image", [str(i + 1) for i in range(6)])], slider=[False, True])

# %% [markdown]
# ## What this run says

# %%
rows = [(d, r["zeroshot"]) for d, r in zero_shot.items()]
hard = [d for d, c in rows if c.mean < 60]
easy = [d for d, c in rows if c.mean >= 85]
mean = sum(c.mean for _, c in rows) / len(rows)
paper_rows = [c for _, c in rows if c.paper is not None]
text = [f"Mean zero-shot accuracy over {len(rows)} datasets: **{mean:.1f}%**"]
if paper_rows:
    paper_mean = sum(c.paper for c in paper_rows) / len(paper_rows)
    text.append(f" (the paper's datasets of the same kinds: {paper_mean:.1f}%)")
text.append(".\n\n")
text.append(f"Zero-shot CLIP is strong ({', '.join(easy) or 'on no dataset'} at or above 85%) " if easy else "No dataset reaches 85% zero-shot; ")
text.append(f"and weak on {', '.join(hard)} (below 60%): " if hard else "and no dataset falls below 60%: ")
text.append("the gap that prompt and bias tuning try to close on the next pages. "
            "This matches the paper's premise when the weak datasets are the ones with a domain shift or "
            "uninformative class names, and contradicts it otherwise.")
display(Markdown("".join(text)))
