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
# **What the paper says, in short.** In the image tower *"the prompts do not significantly impact the attention
# scope"*, *"the vision prompts do not influence [cls] token’s attention on the input patches"*, and the learned
# vision prompts *"resemble background features"* (Sec. 3.3.2, Figs. 5–7).

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
imported_prompts = None

# %% tags=["remove-input"]
from mmprompts.page import page_header
from mmprompts.profiles import from_parameters

S = from_parameters(globals())  # checks every parameter: a wrong one stops the page here
page_header(S, "05_vision_prompts", "Sec. 3.3.2, Figs. 5–7, App. D")

# %% [markdown]
# **What the paper says, in detail.**
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

# %% [markdown]
# **What this page does.** The statistics per block and head for zero-shot CLIP and the prompted
# model on the same test images, under both distance conventions (the prompts' attention counted
# at distance 0, and renormalised away); the [cls] attention maps of both models and the prompts'
# similarity maps; each claim decided against CLIP's own spread between heads or images, on one
# trained run per dataset (the first seed): a claim about most datasets takes its replication from
# the datasets, not from seeds.

# %%
from IPython.display import display

from mmprompts.claims import report
from mmprompts.pages import vision_prompts

page = vision_prompts.measure(S, S.load_model())

# %% [markdown]
# ## Attention distance and entropy per head (Figs. 5 and 7)
# One mark per head and block (CLIP blue circles, W/O prompt purple triangles, W prompt orange
# crosses). Distance in pixels on the patch grid, patch queries and keys: "prompt mass at 0" counts
# the attention on [cls] and prompts as distance 0 (the convention of ViT's mean attention distance
# {cite:p}`dosovitskiy2021vit`), "renormalised" divides by the attention on patches. Pick the dataset.

# %%
display(*vision_prompts.scope_viewer(page))

# %%
display(*vision_prompts.cls_entropy_viewer(page))

# %% [markdown]
# ## [cls] attention and prompt similarity (Fig. 6)
# Rows: where zero-shot CLIP's [cls] attends, where the prompted model's [cls] attends (mean over
# heads, patches only), and how similar each patch is to the vision prompts (1 − min–max of the
# Euclidean distance, averaged over the prompts); columns: blocks. Pick the dataset and the image.

# %%
display(*vision_prompts.cls_map_viewer(page))

# %% [markdown]
# ## Rotated inputs (this book's own analysis)
# Not a claim of the paper. If the prompts' similarity maps follow the image's content, rotating
# the image rotates them: the correlation between the map of the rotated image and the rotated
# map (last block, 16 images, 90°/180°/270°) is then near 1.

# %%
display(vision_prompts.rotation_figure(page), vision_prompts.rotation_table(page))

# %% [markdown]
# ## Per dataset, against CLIP, against prompts that learned nothing, and the positive control
# How far each variant's attention statistics are from CLIP's, in units of CLIP's own spread between
# heads (the scale of Fig. 5's dots), and how much the prompted model's [cls] maps stay CLIP's; the
# same for the three null controls and for the positive control (bias tuning of the same task).

# %%
display(vision_prompts.scope_table(page), vision_prompts.controls_table(page))

# %% [markdown]
# ## What this run says
# The paper does not say where the prompt keys sit on the patch grid, so the distance *with* the
# prompts (W prompt) is decided under two conventions — their attention counted at distance 0, and
# spread like the query's attention over the patches (the renormalised distance) — and only where
# both give the same outcome. The distance among the patches alone (W/O prompt) needs no convention.
# Claims about learned prompts are not testable where they did not learn.
#
# Every claim of this page but the background one says the prompts leave something unchanged (*"the
# prompts do not significantly alter the feature extraction process"*). Untrained prompts leaving it
# alone too says nothing; what says something is a model whose feature extraction learning did alter,
# of the same task, that the statistic registers: the positive control, bias tuning (Table 1's BIAS
# run, first seed), a learned vector added after every block of the image tower (Table 5.3's last
# rows). A dataset counts as unchanged only where bias tuning does change the statistic beyond the
# rule's margin; where it does not, the statistic is not shown able to see a change there.

# %%
vision_prompts.gains_table(page)

# %%
report(vision_prompts.NOTEBOOK, vision_prompts.verdicts(page), scope=S.verdict_scope)
