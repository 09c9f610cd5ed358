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
# # 4. What the text prompts learn (Sec. 3.3.1; Fig. 4)
#
# **The paper's claim.** In CLIP's text tower the EOS token (whose output is the class feature)
# attends mostly to SOS, then to the template words "a photo of a" and the class name. After
# prompt tuning, EOS keeps attending to the class name about as before, but a large share of its
# attention moves to the learned prompts, which — being the same for every class and every image —
# can only carry *dataset-level* information: the prompts act as a learned dataset bias rather
# than as better class descriptions. In the image tower, [cls] likewise gives a visible share of
# its attention to the vision prompts.
#
# This page measures, per block and head, how the EOS query (text, averaged over the class
# prompts) and the [cls] query (image, averaged over test images) split their attention over the
# token groups, for zero-shot CLIP and for the prompted model.

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
from mmprompts.analysis import TEXT_GROUPS, VISION_GROUPS, token_group_attention
from mmprompts.experiments import analysis_run, in_batches, test_images
from mmprompts.figures import group_attention_bars
from mmprompts.widgets import figure_png, view_selector

clip = S.load_model()
data = S.load_datasets()
zero_shot = PromptedCLIP(clip)

# %%
shares = {}
for name, dataset in data.items():
    prompted = analysis_run(S, clip, dataset).model
    images, _ = test_images(clip, dataset, S.analysis_images)
    shares[name] = {label: token_group_attention(model, in_batches(images), dataset.classnames, dataset.template)
                    for label, model in (("CLIP", zero_shot), ("prompted", prompted))}

# %% [markdown]
# ## Attention of EOS (text) and [cls] (image) on the token groups
# Each panel is a block; each bar a head; the colours split the query's attention over the groups
# (for CLIP, "template" is "a photo of a"; for the prompted model, "prompt" are the learned tokens).
# Pick the dataset, the tower and the model.

# %%
views = []
for name, by_model in shares.items():
    per_tower = []
    for tower, groups in (("text", TEXT_GROUPS), ("vision", VISION_GROUPS)):
        query = "EOS" if tower == "text" else "[cls]"
        per_tower.append([figure_png(group_attention_bars(by_model[m][tower], groups, f"{name}: {query} attention, {m}"))
                          for m in ("CLIP", "prompted")])
    views.append(per_tower)
view_selector(views, [("dataset", list(shares)), ("tower", ["text (EOS)", "image ([cls])"]), ("model", ["CLIP", "prompted"])],
              slider=[False, False, False])

# %% [markdown]
# ## What this run says

# %%
def mean_share(tensor, groups, group):
    return tensor[..., groups.index(group)].mean().item()  # over blocks and heads

lines = ["| dataset | EOS → category (CLIP → prompted) | EOS → SOS | EOS → learned prompts | [cls] → vision prompts |",
         "|---|---|---|---|---|"]
kept, moved, vision = [], [], []
for name, by_model in shares.items():
    c, p = by_model["CLIP"]["text"], by_model["prompted"]["text"]
    category = (mean_share(c, TEXT_GROUPS, "category"), mean_share(p, TEXT_GROUPS, "category"))
    prompt_share = mean_share(p, TEXT_GROUPS, "prompt")
    cls_prompt = mean_share(by_model["prompted"]["vision"], VISION_GROUPS, "vision_prompt")
    kept.append(category[1] >= 0.5 * category[0])
    moved.append(prompt_share > category[1])
    vision.append(cls_prompt)
    lines.append(f"| {name} | {category[0]:.3f} → {category[1]:.3f} | {mean_share(c, TEXT_GROUPS, 'sos'):.3f} → "
                 f"{mean_share(p, TEXT_GROUPS, 'sos'):.3f} | {prompt_share:.3f} | {cls_prompt:.3f} |")
display(Markdown("\n".join(lines) + "\n\n(means over blocks and heads)"))
n = len(shares)
display(Markdown(
    f"EOS keeps at least half of its attention on the class name on {sum(kept)} of {n} datasets, and gives the learned prompts "
    f"more attention than the class name on {sum(moved)} of {n}. "
    + ("Together this supports the paper: the text prompts draw attention without replacing the class name, so they add "
       "class-independent (dataset-level) information. " if sum(kept) > n / 2 and sum(moved) > n / 2 else
       "So this run only partly supports the paper's picture of text prompts as a dataset bias that draws EOS's attention. ")
    + f"In the image tower, [cls] gives the {S.n_ctx} vision prompts on average {100 * min(vision):.1f}–{100 * max(vision):.1f}% "
    "of its attention."))
