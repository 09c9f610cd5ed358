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
# # 6. Bias tuning against prompts
#
# *The paper's Sec. 3.4 and Table 1*
#
# **What the paper says, in short.** *"bias tuning outperforms prompt tuning with the same number of parameters"*
# (Sec. 1; Table 1), on EuroSAT *"by a large margin"* (Abstract), while *"the slight performance gap (0.5) between
# bias tuning and the optimal prompt tuning settings … still exists"*.

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
page_header(S, "06_bias_vs_prompts", "Sec. 3.4, Table 1")

# %% [markdown]
# **What the paper says, in detail.** If prompts work mainly as a learned bias, learning the bias directly
# should do as well. Bias tuning adds *"an independent learnable embedding … to all tokens after
# each transformer layer of the image and language branch"* and compares it with prompts *"in the
# same parameter settings"*: Table 1's PROMPT column equals Table 3's "2 prompts" row, so this book
# reads it as 1 + 1 prompts in every block, exactly the bias's parameter count (15,360 on ViT-B/16).
# The paper reports (Sec. 1, and Sec. 4 in nearly these words; Table 1) that *"bias tuning outperforms prompt tuning with the
# same number of parameters"* (average 79.5 against 77.8 over 11 datasets), the Abstract that *"in datasets with limited
# category information, i.e., EuroSAT, bias tuning surpasses prompt tuning by a large margin"*
# (86.5 against 71.7), that *"the slight performance gap (0.5) between bias tuning and the
# optimal prompt tuning settings … still exists"* (80.0 against 79.5), and, right after saying bias
# tuning falls slightly short of the optimal prompts (Sec. 1), that *"for datasets with limited category
# information, the advantages of bias tuning remain highly evident"* (EuroSAT: 86.5 against OPTIMAL's 82.6).
# The OPTIMAL column equals, on all 11 datasets, Table 3's "20 prompts" row — 10 + 10 prompts in
# every block — so that is how this page defines it.

# %% [markdown]
# **What this page does.** It trains the four columns on every dataset and seed and decides the
# four statements from the seed spread. Averages are over the datasets shown, the paper's too.
# "Bias tuning outperforms prompt tuning" compares two methods in general, so its gap must also stand
# out from the spread between the tasks (the task as the unit, as on page 1); each task's gap is in
# its verdict and in Table 6.1.
# A statement about which method learns better needs tasks that learned: a task whose better
# method is not above zero-shot beyond 2 SE is left out of the statement and named in its verdict
# (*not testable* when none is left). A statement that another recipe of this page's recipe grid
# (Table 6.7 below) or the other design of the EuroSAT stand-in (Table 6.5) decides otherwise is
# recorded as inconclusive, each design's outcome said: both are this book's choices, not the paper's.
# The best prompt setting of this book's whole grid is a different, labelled column on page 7.

# %% tags=["full-width"]
from IPython.display import display

from mmprompts.claims import report
from mmprompts.pages import bias

page = bias.measure(S, S.load_model())
bias.table_1(page)

# %%
bias.wins_table(page)

# %% [markdown]
# ## What this run says

# %%
report(bias.NOTEBOOK, bias.verdicts(page), scope=S.verdict_scope)

# %% [markdown]
# ## The same rules on the paper's own numbers (positive controls)
# Each rule above, run on the paper's Table 1: a rule that did not support a statement on the
# numbers the paper drew it from would be testing something else. The paper gives means over three
# seeds and no spread, so each cell gets a nominal SE read off the paper's own Table 2: along a
# dataset's row of 1…12 prompted blocks, the second difference of neighbouring cells cancels the
# trend and leaves their noise (6 × a cell's variance); its median size gives an SE of a 3-seed mean
# from 0.09 points (ImageNet) to 1.2 (EuroSAT), seed spreads of about 0.15 to 2 points
# (the library's positive-control module). Bias's advantage over OPTIMAL on EuroSAT (+3.9) clears its
# 2 SE (3.4) narrowly: with twice this SE the rule would call it inconclusive. "Bias tuning outperforms
# prompt tuning with the same number of parameters" is *inconclusive* on the paper's own numbers, and
# this book keeps the rule: it compares two methods in general, so it asks the gap to stand out from
# the spread between datasets too, and the paper's +1.7 does not (EuroSAT's +14.8 carries it; the
# other ten datasets lie between −1.3 and +3.3).

# %%
bias.paper_table()

# %% [markdown]
# ## How much do these verdicts depend on the mini world? (this book's own analysis)
# The paper explains EuroSAT by its *"limited category information"* (Abstract, Sec. 1). This book
# assumes that CLIP had read EuroSAT's class words ("forest", "river") and that its satellite images
# were what was unfamiliar; the paper does not discuss CLIP's vocabulary. The mini world's EuroSAT stand-in,
# `land`, is built that way: its class names are words of the pretraining captions, which only
# showed those lands from the ground, and the task shows them from above. Its ablation
# `land-novel` shows the same images under names the mini CLIP never read (Latin words): the
# reading that EuroSAT's words were what CLIP lacked. It is kept out of every average above. Below, the
# statements of this page and page 1 are decided twice: with `land` (known names) and with
# `land-novel` in its place (novel vocabulary). The paper did not run this comparison.

# %% tags=["full-width"]
display(*bias.world_tables(page))

# %% [markdown]
# ## How much do these verdicts depend on the training recipe? (this book's own analysis)
# The `mini` recipe keeps the paper's SGD, warm-up epoch and cosine schedule and departs from the
# rest (batch 32, lr 0.0025, 10 epochs, random crops) to fit two CPU cores: 6 epochs; no crops (a
# crop of a 48-pixel scene often cuts away the object or rescales the texture that is the label);
# batch 4, because 16 shots of 10 classes give batch 32 five steps an epoch; and lr 0.01. Whether
# these choices decide Table 1's verdicts is measured here: Table 1 trained again with batch 16,
# and with half and twice the lr, one change at a time (the `paper` profile runs the paper's
# recipe and skips this). Every recipe trains the tasks on which this build's recipe learned, the
# tasks Table 1's statements are decided on, so that a verdict changes with the recipe and not with
# its tasks (not tested: whether a variant would make the others learn).
# In this book's measurement batch 16, though cheaper, let OPTIMAL's
# 10 + 10 prompts fail on `land` in two seeds of three, half the lr trained bias tuning worse and
# twice the lr the prompts; the sentence under Table 6.6 gives this build's numbers.

# %% tags=["full-width"]
display(*bias.recipe_tables(page))
