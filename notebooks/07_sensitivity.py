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
# # 7. Sensitivity to prompt depth and number (Sec. 3.5, App. C; Tables 2, 3)
#
# **What the paper says.**
# - *Depth (Table 2: 4 + 4 prompts in d blocks — this book prompts the first d; Sec. 3.5, App. C.1):* *"the performance of
#   the multi-modal prompts increases as the number of layers increases, but the upward trend also
#   gradually slows down"*; *"for datasets with a large number of categories, such as ImageNet, the
#   performance continues to increase with the addition of more layers. However, for datasets with
#   fewer categories and high similarity between categories, such as EuroSAT, the performance
#   saturates after adding a smaller number of multi-modal prompt layers"*; and *"with the addition
#   of the 10 and 11-layer multi-modal prompts, the average performance reached its highest,
#   exceeding CLIP by more than 14 points"* (of ViT-B/16's 12 blocks).
# - *Number (Table 3: n + n prompts in every block; App. C.2):* *"increasing the number of prompts
#   can lead to improved performance"*, but *"when the number of multi-modal prompts exceeds 20
#   [10 per branch], the learning process of the prompts becomes highly unstable and prone to
#   failure, especially for datasets with limited category information such as EuroSAT"* — Table 3
#   has no EuroSAT value for 20 and 50 prompts per branch and does not say why; this book reads the
#   empty cells as those failures (shown as "–" below).
#
# **What this page does.** It trains the grid of the profile (finished runs come from the cache),
# shows both tables beside the paper's and decides each statement from the seed spread. A depth d
# of an L-block model is compared with the paper's column at the same fraction of 12 blocks; the
# `mini` model has 12 blocks like ViT-B/16, so its depths map one to one. To keep the book's build
# short on two CPU cores, the `mini` grid has depths 1, 4, 8, 11 and 12 (not all twelve) and 1,
# 4, 10 and 20 prompts per branch (not 2, 3 or 50), on the stand-ins of the two datasets App. C.1
# names, ImageNet (`objects`) and EuroSAT (`land`): this page's runs took about 5 of the build's 15
# minutes, and all six tasks would add about 6 more. `-y "grid_datasets: [...]"` trains others;
# the `paper` profile trains the paper's whole grid.

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
grid_datasets = None  # the datasets of Tables 2 and 3 (None: the profile's)
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
page_header(S, "07_sensitivity", "Sec. 3.5, App. C, Tables 2–3")

# %%
from IPython.display import HTML, display

from mmprompts.claims import (decide_depth_best_near_top, decide_depth_exceeds_clip, decide_depth_rises,
                              decide_many_classes_keep_gaining, decide_more_prompts_help, decide_unstable_above, estimate,
                              report, seed_estimate)
from mmprompts.experiments import RunSpec, run_all, run_log, seed_accuracies
from mmprompts.methods import method_label
from mmprompts.presets import table1_methods, table1_specs, table2_methods, table2_specs, table3_methods, table3_specs
from mmprompts.figures import accuracy_curves, training_curves
from mmprompts.page import figure
from mmprompts.tables import PAPER_LAYERS, best_prompt_setting, html_table, paper_dataset, show, table2, table3, with_average

clip = S.load_model()
layers = clip.depth
classes = {name: len(d.classnames) for name, d in S.load_datasets().items() if name in S.grid}
specs = list(dict.fromkeys(table2_specs(S.grid, S.seeds, S.depths) + table3_specs(S.grid, S.seeds, layers, S.prompt_counts)
                           + table1_specs(S.datasets, S.seeds, layers)))
accuracies = run_all(specs, clip, S, progress=False)

# %% [markdown]
# ## Table 2: prompt depth

# %% tags=["full-width"]
depth_rows = table2(accuracies, S.grid, S.depths, layers)
depth_columns = {0: "CLIP", **{d: f"d={d}" + (f" (paper d={round(PAPER_LAYERS * d / layers)})" if layers != PAPER_LAYERS else "")
                               for d in S.depths}}
display(show(with_average(depth_rows), depth_columns, f"Table 7.1 — Table 2: 4+4 prompts in the first d of {layers} blocks"))
figure(accuracy_curves(depth_rows, [0, *S.depths], "prompted blocks (0 = zero-shot)"),
       "Test accuracy against the number of prompted blocks, this run (mean ± std over seeds) and the paper's "
       "dataset each task stands for", "7.1", "Table 2")

# %% [markdown]
# ## Table 3: number of prompts

# %% tags=["full-width"]
count_rows = table3(accuracies, S.grid, layers, S.prompt_counts)
display(show(with_average(count_rows), {0: "CLIP", **{n: f"{n}+{n}" for n in S.prompt_counts}},
             f"Table 7.2 — Table 3: n+n prompts in all {layers} blocks (paper: '–' where it reports no value)"))
figure(accuracy_curves(count_rows, [0, *S.prompt_counts], "prompts per branch (0 = zero-shot)"),
       "Test accuracy against the number of prompts per branch in every block", "7.2", "Table 3")

# %% [markdown]
# ## This book's own column: the best prompt setting of the grid against bias tuning
# Not the paper's OPTIMAL (that is 10 + 10 prompts, page 6): the best mean over every IVLP setting
# this build trained (Tables 1–3), next to bias tuning.

# %%
bias = table1_methods(layers)["bias"]
HTML(html_table([{"dataset": d, "best setting of the grid": method_label(best), "its accuracy": cell.mean,
                  "bias tuning": estimate(seed_accuracies(accuracies, d, bias)).mean}
                 for d in S.datasets for best, cell in [best_prompt_setting(accuracies, d)] if best is not None],
                "Table 7.3 — Best prompt setting of this build's grid against bias tuning (this book's analysis)"))

# %% [markdown]
# ## What this run says

# %%
depth_methods, count_methods = table2_methods(S.depths), table3_methods(layers, S.prompt_counts)
depth_curve = {d: seed_estimate({ds: seed_accuracies(accuracies, ds, m) for ds in S.grid}) for d, m in depth_methods.items() if d}
per_dataset_depth = {ds: {d: estimate(seed_accuracies(accuracies, ds, m)) for d, m in depth_methods.items() if d} for ds in S.grid}
count_curve = {n: seed_estimate({ds: seed_accuracies(accuracies, ds, m) for ds in S.grid}) for n, m in count_methods.items() if n}
clip_average = sum(seed_accuracies(accuracies, ds, None)[0] for ds in S.grid) / len(S.grid)
eurosat = next((d for d in S.grid if paper_dataset(d) == "eurosat"), None)
report("07_sensitivity", [
    decide_depth_rises(depth_curve),
    decide_many_classes_keep_gaining(per_dataset_depth, classes, eurosat),
    decide_depth_best_near_top(depth_curve, layers),
    decide_depth_exceeds_clip(max(depth_curve.values(), key=lambda e: e.mean), clip_average),
    decide_more_prompts_help(count_curve),
    decide_unstable_above({ds: {n: seed_accuracies(accuracies, ds, m, failed_as_none=True) for n, m in count_methods.items() if n}
                           for ds in S.grid},
                          {ds: 100 / classes[ds] for ds in S.grid}),
])

# %% [markdown]
# ## Training curves of many prompts
# Where the paper sees the instability: the training loss at every step of the runs with 10 or more
# prompts per branch on EuroSAT's stand-in, read from the runs' logs.

# %%
if eurosat is not None:
    many = [n for n in S.prompt_counts if n >= 10]  # the paper: unstable when more than 10 per branch
    logs = {f"{n}+{n} prompts": {f"seed {seed}": run_log(RunSpec(eurosat, count_methods[n], seed), clip, S)
                                 for seed in S.seeds} for n in many}
    display(figure(training_curves(logs), f"Training loss per step of the {eurosat} runs with {' and '.join(logs)} in "
                   "every block, one line per seed (a cross ends a run that diverged)", "7.3", "App. C.2"))

