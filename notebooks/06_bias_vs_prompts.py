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
# # 6. Bias tuning against prompt tuning (Sec. 3.4; Table 1)
#
# **What the paper says.** If prompts work mainly as a learned bias, learning the bias directly
# should do as well. Bias tuning adds *"an independent learnable embedding … to all tokens after
# each transformer layer of the image and language branch"* and compares it with prompts *"in the
# same parameter settings"*: Table 1's PROMPT column equals Table 3's "2 prompts" row, so this book
# reads it as 1 + 1 prompts in every block, exactly the bias's parameter count (15,360 on ViT-B/16).
# The paper reports (Sec. 1, and Sec. 4 in nearly these words; Table 1) that *"bias tuning outperforms prompt tuning with the
# same number of parameters"* (average 79.5 against 77.8 over 11 datasets), the Abstract that *"in datasets with limited
# category information, i.e., EuroSAT, bias tuning surpasses prompt tuning by a large margin"*
# (86.5 against 71.7), and that *"the slight performance gap (0.5) between bias tuning and the
# optimal prompt tuning settings … still exists"* (80.0 against 79.5). The OPTIMAL column equals,
# on all 11 datasets, Table 3's "20 prompts" row — 10 + 10 prompts in every block — so that is
# how this page defines it.
#
# **What this page does.** It trains the four columns on every dataset and seed and decides the
# three statements from the seed spread. Averages are over the datasets shown, the paper's too.
# The best prompt setting of this book's whole grid is a different, labelled column on page 7.

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
page_header(S, "06_bias_vs_prompts", "Sec. 3.4, Table 1")

# %%
from IPython.display import HTML, display

from mmprompts.claims import report
from mmprompts.experiments import run_all
from mmprompts.presets import table1_specs
from mmprompts.tables import bias_wins, html_table, show, table1, with_average
from mmprompts.worlds import ablation_pairs, dependence_rows, flipped, table1_verdicts, world_dependence, world_tasks

clip = S.load_model()
layers = clip.depth
# the mini world's novel-vocabulary ablation too (last section)
accuracies = run_all(table1_specs(world_tasks(S.datasets), S.seeds, layers), clip, S, progress=False)

# %% tags=["full-width"]
rows = table1(accuracies, S.datasets, layers)
show(with_average(rows), {"zeroshot": "CLIP (zero-shot)", "prompt": f"PROMPT (1+1 in {layers} blocks)",
                          "bias": f"BIAS ({layers} blocks)", "optimal": f"OPTIMAL (10+10 in {layers} blocks)"},
     f"Table 6.1 — Table 1, {S.shots} shots, seeds {list(S.seeds)}")

# %%
wins = bias_wins(rows)
HTML(html_table(wins, f"Table 6.2 — The datasets where bias tuning beats same-size prompts ({len(wins)} of {len(S.datasets)})")
     if wins else f"<p>Bias tuning beats same-size prompts on none of the {len(S.datasets)} datasets.</p>")

# %% [markdown]
# ## What this run says

# %%
report("06_bias_vs_prompts", table1_verdicts(accuracies, S.datasets, layers))

# %% [markdown]
# ## How much do these verdicts depend on the mini world? (this book's own analysis)
# The paper explains EuroSAT by its *"limited category information"* (Abstract, Sec. 1). This book
# assumes that CLIP had read EuroSAT's class words ("forest", "river") and that its satellite images
# were what was unfamiliar; the paper does not discuss CLIP's vocabulary. The mini world's EuroSAT stand-in,
# `land`, is built that way: its class names are words of the pretraining captions, which only
# showed those lands from the ground, and the task shows them from above. Its ablation
# `land-novel` shows the same images under names the mini CLIP never read (Latin words), the
# design an earlier version of this book used; it is kept out of every average above. Below, the
# statements of this page and page 1 are decided twice: with `land` (known names) and with
# `land-novel` in its place (novel vocabulary). The paper did not run this comparison.

# %% tags=["full-width"]
pairs = [task for pair in ablation_pairs(S.datasets) for task in pair]
dependence = world_dependence(accuracies, S.datasets, layers)
if pairs:
    display(show(table1(accuracies, pairs, layers),
                 {"zeroshot": "CLIP (zero-shot)", "prompt": "PROMPT (1+1)", "bias": "BIAS", "optimal": "OPTIMAL (10+10)"},
                 "Table 6.3 — The EuroSAT stand-in with known class names and its novel-vocabulary ablation "
                 "(same images)"))
    display(HTML(html_table(dependence_rows(dependence),
                            "Table 6.4 — The statements of pages 1 and 6 decided in each world design")))
HTML(f"<p><b>Which verdicts depend on the world design:</b> {flipped(dependence)}</p>")
