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
# **What the paper says.** In CLIP's text tower EOS, whose output is the class feature,
# *"predominantly focuses most of its attention on the $t_{SOS}$ token in each layer"*, and SOS,
# which cannot see the class name under the causal mask, acts as a bias. With learned text
# prompts (Sec. 3.3.1): *"the attention of $t_{EOS}$ towards $t_{SOS}$ significantly decreases,
# while its attention towards the prompts noticeably increases. Meanwhile, the attention toward
# category tokens stays the same."* The paper concludes that the prompts take over part of SOS's
# role and carry dataset-specific bias. Fig. 4 shows CLIP reading "a photo of a" where the
# prompted model reads its learned tokens.
#
# **What this page does.** Per block and head, how the EOS query splits its attention over SOS,
# the words before the class name ("a photo of a" for CLIP, the learned prompts for the prompted
# model), the class name and the period, averaged over the class prompts of each dataset; CLIP
# reads every class as "a photo of a {class}." (the paper's Fig. 4). Each statement is tested
# with paired block × head differences, the bars of Fig. 4.

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
learned = None  # a prompt checkpoint trained elsewhere (MaPLe/PromptSRC IVLP, VPT, MaPLe, CoOp) to analyse instead
device = None
cache = None

# %%
from mmprompts.page import page_header
from mmprompts.profiles import from_parameters

S = from_parameters(globals())  # checks every parameter: a wrong one stops the page here
page_header(S, "04_text_prompts", "Sec. 3.3.1, Fig. 4")

# %%
from IPython.display import HTML, display

from mmprompts import PromptedCLIP
from mmprompts.analysis import TEXT_GROUPS, VISION_GROUPS, token_group_attention
from mmprompts.claims import decide_direction, decide_equal, report, text_attention_effects
from mmprompts.analysis_inputs import analysis_model, balanced_test_images, in_batches
from mmprompts.figures import group_attention_grid
from mmprompts.page import caption
from mmprompts.paper import CLIP_TEMPLATE
from mmprompts.tables import html_table
from mmprompts.widgets import figure_png, view_selector

clip = S.load_model()
data = S.load_datasets()
zero_shot = PromptedCLIP(clip)

# %%
shares = {}
for name, dataset in data.items():
    prompted = analysis_model(S, clip, dataset)
    images, _ = balanced_test_images(clip, dataset, S.analysis_images)
    shares[name] = {label: token_group_attention(model, in_batches(images), dataset.classnames, CLIP_TEMPLATE, progress=False)
                    for label, model in (("CLIP", zero_shot), ("prompted", prompted))}

# %% [markdown]
# ## Attention of EOS on the token groups
# Each panel is a block, each bar a head; the colours split EOS's attention over the groups
# ("template" is "a photo of a" for CLIP, "prompt" the learned tokens). Pick the dataset.

# %%
views = [figure_png(group_attention_grid({m: by[m]["text"] for m in ("CLIP", "prompted")}, TEXT_GROUPS, "EOS"))
         for by in shares.values()]
display(view_selector(views, [("dataset", list(shares))], slider=[False]))
caption("EOS attention per block (panels) and head (bars) on SOS, the learned prompts (prompted) or “a photo of a” (CLIP), the class "
        "name and the period; rows labelled CLIP zero-shot CLIP, rows labelled prompted the prompted model", "4.1", "Fig. 4")

# %% [markdown]
# ## What this run says

# %%
def mean(tensor, groups, *names):
    return sum(tensor[..., groups.index(n)].mean().item() for n in names)  # over blocks and heads

effects = {d: text_attention_effects(by["CLIP"]["text"], by["prompted"]["text"], TEXT_GROUPS) for d, by in shares.items()}
HTML(html_table([{"dataset": d,
                  "→ SOS": f"{mean(by['CLIP']['text'], TEXT_GROUPS, 'sos'):.3f} → {mean(by['prompted']['text'], TEXT_GROUPS, 'sos'):.3f}",
                  "→ prefix": f"{mean(by['CLIP']['text'], TEXT_GROUPS, 'prompt', 'template'):.3f} → "
                              f"{mean(by['prompted']['text'], TEXT_GROUPS, 'prompt', 'template'):.3f}",
                  "→ class name": f"{mean(by['CLIP']['text'], TEXT_GROUPS, 'category'):.3f} → "
                                  f"{mean(by['prompted']['text'], TEXT_GROUPS, 'category'):.3f}",
                  "[cls] → vision prompts": mean(by["prompted"]["vision"], VISION_GROUPS, "vision_prompt")}
                 for d, by in shares.items()],
                "Table 4.1 — EOS attention shares, CLIP → prompted (means over blocks and heads; prefix: 'a photo of a' "
                "for CLIP, the learned prompts for the prompted model), and the prompted [cls] query's share on the vision prompts"))

# %%
report("04_text_prompts", [
    decide_direction("text-attention.sos-decreases", {d: e["sos"] for d, e in effects.items()}, -1, "EOS attention on SOS"),
    decide_direction("text-attention.prompts-increase", {d: e["prefix"] for d, e in effects.items()}, +1,
                     "EOS attention on the learned prompts against CLIP's on 'a photo of a'"),
    decide_equal("text-attention.category-same", {d: e["category"] for d, e in effects.items()},
                 {d: 0.25 * e["category_level"].mean for d, e in effects.items()}, "EOS attention on the class name"),
])
